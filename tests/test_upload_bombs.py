"""Finding 10: decompression bombs, scripted PDFs and polyglots are refused before anything opens them, with the
file named and the reason given in Chinese, in well under a second, and nothing is stored."""

from __future__ import annotations

import io
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from kxflow.assessments.models import AssessmentResult
from kxflow.workflow.models import Attachment
from tests.bombs import docx_bomb, xlsx_bomb
from tests.files import JPG, PDF, PNG, pdf
from tests.test_assessments import upload as import_file


def _stored(app) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_FOLDER"]).glob("*") if p.is_file()]


def _cheaply(call):
    tracemalloc.start()
    started = time.process_time()
    try:
        result = call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, time.process_time() - started, peak


@pytest.mark.parametrize(("name", "data"), [("考核.xlsx", "cpu"), ("考核大.xlsx", "memory")])
def test_assessment_bombs_are_refused_before_they_are_read(world, app, name, data):
    bomb = xlsx_bomb(rows=5_000, cells=240) if data == "cpu" else xlsx_bomb(rows=450_000, cells=6)
    r, cpu, peak = _cheaply(lambda: import_file(world, bomb, name))
    assert r.status_code == 422
    (message,) = r.json["fields"]["file"]
    assert message.startswith(name) and "压缩炸弹" in message
    assert cpu < 1.0 and peak < 20 * 1024 * 1024  # before: 11 s and 85 MiB; 26 s and 268 MiB
    assert world.db_count(AssessmentResult) == 0


def test_the_row_cap_holds_while_reading(world, monkeypatch):
    """A sheet under the size limits but over the row cap stops at the cap, not after the last row."""
    from kxflow.assessments import operations

    monkeypatch.setattr(operations, "MAX_ROWS", 50)
    rows = [["县（市）代码", "考核年度", "考核结果"]] + [["330523", "2024", "通过"]] * 60
    from tests.test_assessments import xlsx

    r = import_file(world, xlsx(rows), "r.xlsx")
    assert r.status_code == 422 and r.json["fields"]["file"] == ["每个文件最多 50 行。"]


def test_a_docx_that_inflates_to_300_mb_is_not_an_attachment(world, app):
    app_id = world.new_application(complete=False)
    bomb, before = docx_bomb(300), _stored(app)
    r, cpu, _ = _cheaply(lambda: world.upload(app_id, "self_assessment_report", bomb, "自评报告.docx"))
    assert r.status_code == 422 and cpu < 1.0
    (message,) = r.json["fields"]["file"]
    assert message.startswith("自评报告.docx") and "压缩炸弹" in message
    assert world.db_count(Attachment) == 0 and _stored(app) == before


def test_nor_an_anonymous_objection_scan(world, app):
    from tests.test_publicity import lodge

    app_id = world.new_application()
    world.to_publicity(app_id)
    before = _stored(app)
    form = {"kind": "unit", "text": "材料不实。", "unit_name": "某某协会"}
    r = lodge(world, app_id, form, scan=("盖章函.docx", docx_bomb(300)))
    assert r.status_code == 422 and "压缩炸弹" in r.json["fields"]["scan"][0]
    assert _stored(app) == before


def test_an_archive_inside_an_office_file_is_refused(world):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<x/>")
        z.writestr("word/embeddings/payload.zip", b"PK\x05\x06" + b"\x00" * 18)
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "self_assessment_report", buf.getvalue(), "报告.docx")
    assert r.status_code == 422 and "payload.zip" in r.json["fields"]["file"][0]


CATALOG = b"<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>"
PAGES = b"<</Type/Pages/Kids[]/Count 0>>"


def _object_stream_pdf(hidden: bytes) -> bytes:
    """A PDF 1.5 whose action sits compressed inside an object stream, where no byte scan sees it."""
    inner = b"3 0 " + hidden
    stream = zlib.compress(inner)
    objstm = b"<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length %d>>\nstream\n%s\nendstream" % (len(stream), stream)
    out = bytearray(b"%PDF-1.5\n")
    offsets = []
    for number, body in enumerate((CATALOG, PAGES, None, objstm), start=1):
        if body is None:
            offsets.append(None)
            continue
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    rows = [b"\x00\x00\x00\x00\xff\xff"]
    for offset in offsets:
        rows.append(b"\x02\x00\x00\x00\x04\x00" if offset is None else b"\x01" + offset.to_bytes(4, "big") + b"\x00")
    rows.append(b"\x01" + xref_at.to_bytes(4, "big") + b"\x00")
    data = b"".join(r if len(r) == 6 else r for r in rows)
    xref = b"<</Type/XRef/Size 6/W[1 4 1]/Root 1 0 R/Length %d>>\nstream\n%s\nendstream" % (len(data), data)
    out += b"5 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n" % (xref, xref_at)
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (pdf(CATALOG, PAGES, b"<</S/JavaScript/JS(app.alert(1))>>"), "JavaScript"),
        (pdf(CATALOG, PAGES, b"<</S/J#61vaScript/JS(app.alert(1))>>"), "JavaScript"),  # a name spelled with #xx
        (pdf(CATALOG, PAGES, b"<</S/Launch/F(cmd.exe)>>"), "Launch"),
        (_object_stream_pdf(b"<</S/JavaScript/JS(app.alert(1))>>"), "JavaScript"),
    ],
)
def test_pdfs_that_run_code_are_refused(world, data, what):
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "self_assessment_report", data, "报告.pdf")
    assert r.status_code == 422, r.json
    (message,) = r.json["fields"]["file"]
    assert message.startswith("报告.pdf") and what in message
    assert world.db_count(Attachment) == 0


def test_a_plain_pdf_with_an_open_action_that_is_no_script_is_fine(world):
    app_id = world.new_application(complete=False)
    data = pdf(CATALOG, PAGES, b"<</S/GoTo/D[0/Fit]>>")
    assert world.upload(app_id, "self_assessment_report", data, "报告.pdf").status_code == 201


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (PNG + b"PK\x03\x04payload" + b"PK\x05\x06" + b"\x00" * 18, "照片.png"),  # an image that is also a zip
        (JPG[:-2] + b"%PDF-1.4 hidden" + JPG[-2:], "照片.jpg"),  # an image that a PDF reader opens
        (PDF + b"PK\x05\x06" + b"\x00" * 18, "报告.pdf"),  # a PDF carrying a zip after its end
        (PNG + b"<html><script>alert(1)</script>", "照片.png"),  # data after the image's end
    ],
)
def test_polyglots_are_refused(world, data, name):
    app_id = world.new_application(complete=False)
    r = world.upload(app_id, "self_assessment_report", data, name)
    assert r.status_code == 422, r.json
    assert r.json["fields"]["file"][0].startswith(name)
    assert world.db_count(Attachment) == 0
