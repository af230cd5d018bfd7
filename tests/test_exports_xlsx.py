"""The long export's workbook, written in-process (the worker's function called directly): the same writer as the
statistics' Excel files, so the same header, frozen row, number formats and formula escaping. (The worker in a real
process, the progress page in Chromium and the download are in test_exports_pdf.py.)"""

from __future__ import annotations

import io
import logging
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet._writer import ALL_TEMP_FILES
from sqlalchemy import func, select, update

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.uploads import stored_path
from kxflow.papers import exports
from kxflow.papers.models import Export
from kxflow.statistics.excel import call_xlsx
from tests.web_support import Browser


def _run_export(world, user: str = "ministry") -> Export:
    with world.app.test_request_context():
        row = exports.start(
            db.session.get(User, world.ids[user]), call_ids=[str(world.call_id)], state=None, province=None
        )
        db.session.commit()
        export_id = row.id
    with world.app.app_context():
        exports.run(export_id)
        row = db.session.get(Export, export_id)
        db.session.expunge(row)
        return row


def test_the_long_export_and_the_statistics_write_the_same_kind_of_sheet(world):
    app_id = world.new_application()
    world.to_ministry(app_id)
    with world.app.app_context():
        db.session.execute(update(Call).where(Call.id == world.call_id).values(title="+86-@申报=1"))
        db.session.commit()
    row = _run_export(world)
    assert row.status == "done" and row.rows == 1
    with world.app.app_context():
        sheet = load_workbook(stored_path(row.stored_name)).active
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["序号", "申报批次", "省份", "地市", "县（市）", "区划代码", "所处环节", "得分"]
    assert sheet.freeze_panes == "A2"
    assert all(c.font.b for c in sheet[1]) and sheet["A1"].fill.fgColor.rgb.endswith("EFEFF3")
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(row=1, column=len(header)).column_letter}2"
    assert sheet["B2"].value == "'+86-@申报=1" and sheet["B2"].data_type == "s"  # text, never a formula
    fiscal = header.index("本级财政科技支出（申报前第三年）（万元）") + 1
    assert sheet.cell(row=2, column=fiscal).value == 4200
    assert sheet.cell(row=2, column=fiscal).number_format == "#,##0.00"
    assert sheet.cell(row=2, column=1).number_format == "#,##0"

    # the statistics' call results: the same header look, the same escaping
    with world.app.test_request_context():
        data, _ = call_xlsx(db.session.get(User, world.ids["ministry"]), db.session.get(Call, world.call_id))
    stats = load_workbook(io.BytesIO(data))["结果"]
    assert stats.freeze_panes == "A2"
    assert all(c.font.b for c in stats[1]) and stats["A1"].fill.fgColor.rgb == sheet["A1"].fill.fgColor.rgb
    assert stats.column_dimensions["A"].width == 12


# --- an export whose worker died ------------------------------------------------------------------


def _asked(world, user: str = "ministry") -> int:
    with world.app.test_request_context():
        row = exports.start(
            db.session.get(User, world.ids[user]), call_ids=[str(world.call_id)], state=None, province=None
        )
        db.session.commit()
        return row.id


def _set(world, export_id: int, **values) -> None:
    with world.app.app_context():
        db.session.execute(update(Export).where(Export.id == export_id).values(**values))
        db.session.commit()


def test_a_running_export_whose_worker_stopped_reporting_is_shown_failed_and_can_be_asked_again(world, monkeypatch):
    sent: list[list] = []
    monkeypatch.setattr(world.app.extensions["celery"], "send_task", lambda name, args, **kw: sent.append(args))
    export_id = _asked(world)
    limit = world.app.config["EXPORT_STALL_SECONDS"]
    web = Browser(world.app, "ministry")

    # the worker reported 9 minutes ago (the limit is 10): still running, the page keeps polling
    _set(
        world,
        export_id,
        status="running",
        progress=40,
        rows=80,
        heartbeat_at=clock.now() - timedelta(seconds=limit - 60),
    )
    status = web.get(f"/exports/{export_id}/status").json
    assert status["status"] == "running" and "40%" in status["label"]
    page = web.text(f"/exports/{export_id}")
    assert re.search(r'<form[^>]*id="export-retry"[^>]*hidden', page)  # no retry while it moves
    r = web.post_form(f"/exports/{export_id}/retry", {}, page=f"/exports/{export_id}")
    assert r.status_code == 409

    # silent past the limit: failed, in words the user understands, with a button to ask again
    _set(world, export_id, heartbeat_at=clock.now() - timedelta(seconds=limit + 60))
    status = web.get(f"/exports/{export_id}/status").json
    assert status["status"] == "failed" and status["download_url"] is None
    assert "导出已中断" in status["label"] and "请重新导出" in status["label"]
    page = web.text(f"/exports/{export_id}")
    assert "导出已中断" in page and "重新导出" in page
    assert not re.search(r'<form[^>]*id="export-retry"[^>]*hidden', page)
    assert "导出已中断" in web.text("/papers")  # the list of my exports says so too

    # another user can neither see nor retry it
    assert (
        Browser(world.app, "zj_reviewer").post_form(f"/exports/{export_id}/retry", {}, page="/papers").status_code
        == 404
    )

    r = web.post_form(f"/exports/{export_id}/retry", {}, page=f"/exports/{export_id}")
    assert r.status_code == 302
    again = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert again != export_id and sent == [[again]]  # the new export went to a worker
    with world.app.app_context():
        old, new = db.session.get(Export, export_id), db.session.get(Export, again)
        assert old.status == "failed" and old.error == exports.STALLED
        assert new.status == "queued" and new.filters == old.filters and new.user_id == old.user_id
    # asked again once more (a second click): the same new export, nothing more queued
    r = web.post_form(f"/exports/{export_id}/retry", {}, page=f"/exports/{export_id}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/exports/{again}")
    assert sent == [[again]]
    with world.app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Export)) == 2
    # a late delivery of the old task leaves the given-up export alone
    with world.app.app_context():
        exports.run(export_id)
        assert db.session.get(Export, export_id).status == "failed"


def test_the_worker_beats_while_it_writes_and_a_queued_export_no_worker_took_up_expires(world):
    export_id = _asked(world)
    world.new_application()
    with world.app.app_context():
        exports.run(export_id)
        row = db.session.get(Export, export_id)
        assert row.status == "done" and row.heartbeat_at is not None
    # queued and never taken up within the task's expiry: failed too
    waiting = _asked(world)
    web = Browser(world.app, "ministry")
    assert web.get(f"/exports/{waiting}/status").json["status"] == "queued"
    _set(world, waiting, created_at=clock.now() - timedelta(seconds=exports.EXPIRES_SECONDS + 60))
    assert web.get(f"/exports/{waiting}/status").json["status"] == "failed"


@pytest.mark.parametrize("given_up", ["between_two_reports", "after_the_last_report"])
def test_a_worker_still_alive_when_its_export_was_asked_again_stops_and_leaves_no_file(
    world, monkeypatch, caplog, given_up
):
    """The worker was only slow: the page showed its export failed and the user asked again. The old worker stops at
    its next progress report, or, given up after its last one, does not finish: one file, the retry's."""
    monkeypatch.setattr(world.app.extensions["celery"], "send_task", lambda name, args, **kw: None)
    monkeypatch.setattr(exports, "BATCH", 1)  # a progress report after every row
    world.to_ministry(world.new_application())
    world.to_ministry(world.new_application("sc_staff"), "sc")
    export_id = _asked(world)
    limit = world.app.config["EXPORT_STALL_SECONDS"]
    web = Browser(world.app, "ministry")
    again: list[int] = []

    def user_asks_again() -> None:  # in a thread: the web's requests are not the worker's context and session
        _set(world, export_id, heartbeat_at=clock.now() - timedelta(seconds=limit + 60))
        r = web.post_form(f"/exports/{export_id}/retry", {}, page=f"/exports/{export_id}")
        assert r.status_code == 302
        again.append(int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1]))

    def ask_again() -> None:  # while the old worker is mid-run: silent too long, then asked again
        if not again:
            web_side = threading.Thread(target=user_asks_again)
            web_side.start()
            web_side.join()

    if given_up == "between_two_reports":
        written = exports.local
        monkeypatch.setattr(exports, "local", lambda value: (ask_again(), written(value))[1])
    else:
        saved = exports.save
        monkeypatch.setattr(exports, "save", lambda book, path: (ask_again(), saved(book, path))[1])
    folder = Path(world.app.config["UPLOAD_FOLDER"])
    before = set(folder.glob("export-*.xlsx"))
    scratch = set(ALL_TEMP_FILES)  # openpyxl's temporary files of the sheets this process is writing
    with world.app.app_context(), caplog.at_level(logging.INFO, logger=exports.__name__):
        exports.run(export_id)  # the old worker goes on and comes to its end, without an error
        assert again, "the export was not asked again while its worker ran"
        exports.run(again[0])
        old, new = db.session.get(Export, export_id), db.session.get(Export, again[0])
        assert (old.status, old.error) == ("failed", exports.STALLED)
        assert new.status == "done" and new.rows == 2
        assert set(folder.glob("export-*.xlsx")) - before == {folder / new.stored_name}
        assert set(ALL_TEMP_FILES) <= scratch  # the half-written sheet's too
    # the old worker said why it stopped, as news, not as an error
    assert [r.levelno for r in caplog.records if f"export {export_id} " in r.getMessage()] == [logging.INFO]
    assert web.get(f"/exports/{export_id}/status").json["status"] == "failed"
    assert web.get(f"/exports/{export_id}/download").status_code == 404
