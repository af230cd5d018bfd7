"""The long export's workbook, written in-process (the worker's function called directly): the same writer as the
statistics' Excel files, so the same header, frozen row, number formats and formula escaping. (The worker in a real
process, the progress page in Chromium and the download are in test_exports_pdf.py.)"""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import update

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core.db import db
from kxflow.core.uploads import stored_path
from kxflow.papers import exports
from kxflow.papers.models import Export
from kxflow.statistics.excel import call_xlsx


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
