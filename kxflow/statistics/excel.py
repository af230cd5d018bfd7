"""Excel files of the figures: the applications behind a figure (with indicators, scores and stages), the
provinces side by side, and a call's full results. Chinese headers, the header row frozen, number formats
set, and no cell a spreadsheet would run as a formula (text starting with = + - @ is escaped)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core.fields import CHINA
from kxflow.core.formats import locale
from kxflow.indicators.models import definition_for
from kxflow.statistics import operations
from kxflow.statistics.operations import Filters
from kxflow.workflow.models import Application
from kxflow.workflow.states import state_label

MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INT = "#,##0"
DEC = "#,##0.00"
PCT = "0.0%"
DATE = "yyyy-mm-dd"
HEADER_FILL = PatternFill("solid", fgColor="EFEFF3")


def safe(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe and stays text; numbers, dates and
    booleans go in as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _sheet(
    book: Workbook, title: str, headers: list[tuple[str, str | None, int]], rows: Iterable[list[Any]]
) -> Worksheet:
    """One sheet: headers (name, number format, width), the rows, the header frozen and filterable."""
    sheet = book.create_sheet(title[:31])
    sheet.append([h[0] for h in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    for row in rows:
        sheet.append([safe(v) for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
    for index, (_name, fmt, width) in enumerate(headers, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
    sheet.freeze_panes = "A2"
    if sheet.max_row > 1:
        sheet.auto_filter.ref = sheet.dimensions
    return sheet


def _book() -> Workbook:
    book = Workbook()
    book.remove(book.active)
    return book


def _bytes(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _local(value) -> Any:
    """Excel keeps no time zone: dates go in as Beijing time, without the zone."""
    return None if value is None else value.astimezone(CHINA).replace(tzinfo=None)


def _indicator_columns(apps: list[Application]) -> list[tuple[str, str, str]]:
    """(key, header, format) of every indicator and computed value of the sets these applications use."""
    columns: dict[str, tuple[str, str, str]] = {}
    loc = locale()
    for version in dict.fromkeys(a.call.indicator_set_version for a in apps):
        definition = definition_for(version)
        if definition is None:
            continue
        for item in (*definition.inputs, *definition.computed):
            header = item.label(loc) + (f"（{item.unit}）" if item.unit else "")
            fmt = DEC if item.type == "number" or item.formula else None
            columns.setdefault(item.key, (item.key, header, fmt))
    return list(columns.values())


def _display(value: Any) -> Any:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return value


def applications_xlsx(user: User, filters: Filters) -> tuple[bytes, int]:
    """The applications behind a figure, one row each, with every indicator, the score and the stage."""
    apps = operations.behind_all(user, filters)
    loc = locale()
    indicator_columns = _indicator_columns(apps)
    headers: list[tuple[str, str | None, int]] = [
        (gettext("Call"), None, 30),
        (gettext("Province"), None, 12),
        (gettext("County"), None, 14),
        (gettext("Division code"), None, 10),
        (gettext("Stage"), None, 12),
        (gettext("Self-assessment score"), DEC, 10),
        (gettext("Veto items failed"), None, 14),
        (gettext("Revision round"), INT, 8),
        (gettext("Due"), DATE, 12),
        (gettext("Designated on"), DATE, 12),
        *((header, fmt, 14) for _key, header, fmt in indicator_columns),
    ]
    rows = (
        [
            a.call.title,
            a.county.province.name,
            a.county.name,
            a.county_code,
            state_label(a.state, loc),
            a.score,
            "、".join(a.veto_failures or []),
            a.revision_round,
            _local(a.due_at),
            _local(a.designated_at),
            *(_display({**(a.indicators or {}), **(a.computed or {})}.get(key)) for key, _h, _f in indicator_columns),
        ]
        for a in apps
    )
    book = _book()
    _sheet(book, gettext("Applications"), headers, rows)
    return _bytes(book), len(apps)


def provinces_xlsx(user: User, call: Call | None) -> tuple[bytes, int]:
    rows = operations.provinces(user, call)
    headers: list[tuple[str, str | None, int]] = [
        (gettext("Province"), None, 14),
        (gettext("Number of applications"), INT, 10),
        (gettext("Recommended"), INT, 10),
        (gettext("Designated"), INT, 10),
        (gettext("Quota"), INT, 8),
        (gettext("Places left"), INT, 8),
        (gettext("Pass rate of the latest assessment"), PCT, 14),
        (gettext("Fiscal S&T share, last year (%)"), DEC, 14),
        (gettext("Change of the share (percentage points)"), DEC, 14),
        (gettext("Overdue"), INT, 8),
    ]
    book = _book()
    _sheet(
        book,
        gettext("Provinces"),
        headers,
        (
            [
                r["province_name"],
                r["applications"],
                r["recommended"],
                r["designated"],
                r["quota"],
                r["quota_left"],
                r["pass_rate"],
                r["share_last"],
                r["change_pp"],
                r["overdue"],
            ]
            for r in rows
        ),
    )
    return _bytes(book), len(rows)


def call_xlsx(user: User, call: Call) -> tuple[bytes, int]:
    """A call's full results: every application the user may open, with its stage and figures; the stages per
    province; the quota; the funnel."""
    loc = locale()
    book = _book()
    apps = operations.behind_all(user, Filters(call_id=call.id))
    indicator_columns = _indicator_columns(apps)
    _sheet(
        book,
        gettext("Results"),
        [
            (gettext("Province"), None, 12),
            (gettext("County"), None, 14),
            (gettext("Stage"), None, 12),
            (gettext("Self-assessment score"), DEC, 10),
            (gettext("Designated on"), DATE, 12),
            *((header, fmt, 14) for _key, header, fmt in indicator_columns),
        ],
        (
            [
                a.county.province.name,
                a.county.name,
                state_label(a.state, loc),
                a.score,
                _local(a.designated_at),
                *(
                    _display({**(a.indicators or {}), **(a.computed or {})}.get(key))
                    for key, _h, _f in indicator_columns
                ),
            ]
            for a in apps
        ),
    )
    pipe = operations.pipeline(user, call)
    shown = [s["state"] for s in pipe["states"] if s["count"]]
    _sheet(
        book,
        gettext("Stages by province"),
        [(gettext("Province"), None, 14), *((state_label(s, loc), INT, 10) for s in shown), (gettext("Total"), INT, 8)],
        (
            [p["province_name"], *(p["states"].get(s, 0) for s in shown), p["total"]]
            for p in pipe["by_province"]
            if p["total"]
        ),
    )
    _sheet(
        book,
        gettext("Quota"),
        [
            (gettext("Province"), None, 14),
            (gettext("Quota"), INT, 8),
            (gettext("Used"), INT, 8),
            (gettext("Left"), INT, 8),
        ],
        ([q["province_name"], q["quota"], q["used"], q["left"]] for q in pipe["quota"]),
    )
    _sheet(
        book,
        gettext("Funnel"),
        [(gettext("Stage reached"), None, 14), (gettext("Number of applications"), INT, 10)],
        ([state_label(f["stage"], loc), f["count"]] for f in pipe["funnel"]),
    )
    return _bytes(book), len(apps)
