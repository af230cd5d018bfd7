"""Decompression bombs, built on the fly (nothing large is kept in the repository): small files that inflate
enormously when opened. The same builders feed the tests and ``python -m tests.bench.bombs``."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook

HEADER = '<row><c t="inlineStr"><is><t>county_code</t></is></c></row>'


def _sheet_xml(rows: int, cells: int) -> bytes:
    """A sheet of ``rows`` identical rows of ``cells`` numbers each (no cell references: they are optional, and
    identical rows compress about a thousandfold)."""
    row = b"<row>" + b"<c><v>1</v></c>" * cells + b"</row>"
    out = io.BytesIO()
    out.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/')
    out.write(b'spreadsheetml/2006/main"><sheetData>' + HEADER.encode())
    for _ in range(rows):
        out.write(row)
    out.write(b"</sheetData></worksheet>")
    return out.getvalue()


def xlsx_bomb(rows: int, cells: int) -> bytes:
    """A real workbook (openpyxl's parts) whose first sheet is replaced by a huge, highly compressible one."""
    wb = Workbook()
    wb.active.append(["county_code"])
    plain = io.BytesIO()
    wb.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = _sheet_xml(rows, cells) if item.filename == "xl/worksheets/sheet1.xml" else src.read(item.filename)
            dst.writestr(item.filename, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def docx_bomb(megabytes: int) -> bytes:
    """A DOCX whose document part inflates to ``megabytes`` MB of blank text."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        with z.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body><w:p><w:r><w:t>')
            chunk = b" " * (1024 * 1024)
            for _ in range(megabytes):
                part.write(chunk)
            part.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


# the review's three files: a 45 KB XLSX that cost 17 s of CPU, a 155 KB one that took 285 MB, a DOCX to 300 MB
def review_files() -> dict[str, bytes]:
    return {
        "xlsx-45k.xlsx": xlsx_bomb(rows=5_000, cells=240),
        "xlsx-155k.xlsx": xlsx_bomb(rows=450_000, cells=6),
        "docx-300m.docx": docx_bomb(300),
    }
