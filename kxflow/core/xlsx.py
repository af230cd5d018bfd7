"""The one XLSX writer: the statistics' Excel files and the long export both write their sheets here, so every
file has the same look and the same protection. A bold, shaded header row, frozen and filterable; each column
its width and number format; and no cell a spreadsheet would run as a formula (text starting with = + - @, a tab
or a carriage return gets a leading apostrophe and is stored as text).

Sheets are written as a stream (openpyxl's write-only mode): a row is written and forgotten, so a national
export of tens of thousands of rows costs the same memory as ten.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from kxflow.core.fields import CHINA

MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INT = "#,##0"
DEC = "#,##0.00"
PCT = "0.0%"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="EFEFF3")
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)


class Column(NamedTuple):
    """A column: its header, its number format (None: by the value, see ``cell``) and its width."""

    header: str
    fmt: str | None = None
    width: int = 12


def safe(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe and stays text; numbers, dates and
    booleans go in as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def local(moment: datetime | None) -> datetime | None:
    """Excel keeps no time zone: a moment goes in as Beijing wall time, without the zone."""
    return None if moment is None else moment.astimezone(CHINA).replace(tzinfo=None)


def workbook() -> Workbook:
    """An empty workbook written as a stream; add sheets with ``write_sheet``."""
    return Workbook(write_only=True)


def _format_for(value: Any, fmt: str | None) -> str | None:
    if fmt:
        return fmt
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return DEC
    if isinstance(value, int):
        return INT
    if isinstance(value, datetime):
        return DATETIME
    if isinstance(value, date):
        return DATE
    return None


def cell(sheet: WriteOnlyWorksheet, value: Any, fmt: str | None = None):
    """One cell: text escaped and stored as text, whatever it says; a number or a date in the column's format,
    or, when the column has none, in the one its type calls for (decimals with two places, whole numbers with
    thousands separators)."""
    value = safe(value)
    result = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        result.data_type = "s"  # never a formula
        return result
    number_format = _format_for(value, fmt)  # an empty cell keeps its column's format, for what is typed in later
    if number_format:
        result.number_format = number_format
    return result


def write_sheet(book: Workbook, title: str, columns: list[Column], rows: Iterable[list[Any]]) -> int:
    """A sheet: the header row (bold, shaded, frozen), then the rows, the whole filterable. Returns how many
    rows were written (the header not counted). ``rows`` may be a generator: it is read once, row by row."""
    sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet's name
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    header = []
    for column in columns:
        head = WriteOnlyCell(sheet, value=safe(column.header))
        head.font, head.fill, head.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGNMENT
        header.append(head)
    sheet.append(header)
    formats = [column.fmt for column in columns]
    count = 0
    try:
        for row in rows:
            sheet.append([cell(sheet, value, formats[i] if i < len(formats) else None) for i, value in enumerate(row)])
            count += 1
    except BaseException:
        _discard(sheet)
        raise
    if count and columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    return count


def _discard(sheet: WriteOnlyWorksheet) -> None:
    """A sheet given up half-written (its rows raised: an export stopped): openpyxl's temporary file of its rows
    is closed and removed now, not when the process ends (a worker runs for days)."""
    if sheet._rows is not None:
        sheet._rows.close()
    if sheet._writer is not None:
        sheet._writer.close()
        sheet._writer.cleanup()


def to_bytes(book: Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def save(book: Workbook, path: Path) -> None:
    """Writes the workbook to ``path``; no half-written file is left behind if that fails."""
    try:
        book.save(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
