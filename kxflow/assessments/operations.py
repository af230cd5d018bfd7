"""Importing a round of assessment results from XLSX or CSV: every row checked, all or nothing.

A file is one round. Columns (Chinese or English headers): 县（市）代码 / county_code, 考核年度 /
round_year, 考核结果 / result (先进, 通过, 未通过), 得分 / score (optional, 0–100). Importing a
round again replaces it. Rejected files come back with every bad row and why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import gettext
from openpyxl import load_workbook
from sqlalchemy import bindparam, case, delete, func, insert, select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.applications.operations import reevaluate
from kxflow.applications.queries import sort_order
from kxflow.assessments.models import PASS_RATE_TARGET, PASSING, RESULTS, AssessmentImport, AssessmentResult
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid
from kxflow.core.uploads import Refused, ZipLimits, check_contents, clean_display_name
from kxflow.regions.models import County
from kxflow.workflow.models import Application
from kxflow.workflow.states import BEFORE_MINISTRY, State

HEADERS = {
    "county_code": ("county_code", "县（市）代码", "县(市)代码", "区划代码", "代码"),
    "round_year": ("round_year", "考核年度", "年度"),
    "result": ("result", "考核结果", "结果"),
    "score": ("score", "得分", "分数"),
}
MAX_ROWS = 5000
# a round is a few thousand short rows: far less than a megabyte of sheet XML; anything near this is not a round
MAX_UNCOMPRESSED_BYTES = 16 * 1024 * 1024
MAX_COLUMNS = 16  # the four columns and room for notes beside them; cells further right are never read
MAX_SCANNED_ROWS = 4 * MAX_ROWS  # blank rows count too: a sheet of a million empty rows is not read to its end
# applications whose score still matters: up to the end of expert review
SCORED_STATES = (*BEFORE_MINISTRY, State.MINISTRY_REVIEW, State.EXPERT_REVIEW)


@dataclass
class RowError:
    row: int  # as the user numbers it: the header is row 1
    field: str
    message: str


def _too_many() -> Invalid:
    return Invalid(fields={"file": [gettext("At most %(n)s rows per file.", n=MAX_ROWS)]})


def _capped(rows: Iterator[list[str]]) -> list[list[str]]:
    """The non-empty rows, read one at a time and refused as soon as there are too many (not after the whole sheet)."""
    kept: list[list[str]] = []
    for scanned, row in enumerate(rows, start=1):
        if any(c for c in row):
            kept.append(row)
            if len(kept) > MAX_ROWS + 1:
                raise _too_many()
        if scanned > MAX_SCANNED_ROWS:
            raise _too_many()
    return kept


def _xlsx_rows(name: str, data: bytes) -> Iterator[list[str]]:
    try:
        check_contents(name, "xlsx", data, ZipLimits.from_config(MAX_UNCOMPRESSED_BYTES))
    except Refused as exc:
        raise Invalid(fields={"file": [str(exc)]}) from exc
    try:
        # read-only: the sheet is parsed as a stream (openpyxl uses defusedxml, installed, against XML bombs)
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield ["" if v is None else str(v).strip()[:100] for v in row]
    except Invalid:
        raise
    except Exception as exc:
        raise Invalid(fields={"file": [gettext("The XLSX file cannot be read.")]}) from exc


def _read_rows(filename: str, data: bytes) -> list[list[str]]:
    name = clean_display_name(filename) or "—"
    if filename.lower().endswith(".xlsx"):
        return _capped(_xlsx_rows(name, data))
    if filename.lower().endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise Invalid(fields={"file": [gettext("The CSV file is neither UTF-8 nor GBK.")]})
        return _capped([cell.strip()[:100] for cell in row[:MAX_COLUMNS]] for row in csv.reader(io.StringIO(text)))
    raise Invalid(fields={"file": [gettext("Only XLSX or CSV files can be imported.")]})


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        for key, names in HEADERS.items():
            if name.strip().lower() in names:
                found[key] = index
    missing = [HEADERS[k][1] for k in ("county_code", "round_year", "result") if k not in found]
    if missing:
        raise Invalid(fields={"file": [gettext("Missing columns: %(names)s.", names="、".join(missing))]})
    return found


def can_import(user: User) -> bool:
    return user.role == Role.MINISTRY_STAFF


def can_read_rounds(user: User) -> bool:
    """Ministry staff read the national results; a province reads those of its own counties."""
    return user.role in (Role.MINISTRY_STAFF, Role.PROVINCE_REVIEWER)


def import_round(user: User, filename: str, data: bytes) -> AssessmentImport:
    if not can_import(user):
        raise Forbidden()
    rows = _read_rows(filename, data)
    if len(rows) < 2:
        raise Invalid(fields={"file": [gettext("The file has no result rows.")]})
    cols = _columns(rows[0])
    valid_codes = set(db.session.scalars(select(County.code).where(County.valid_to.is_(None))))
    errors: list[RowError] = []
    clean: list[dict] = []
    seen: dict[str, int] = {}
    years: set[int] = set()

    def cell(row: list[str], key: str) -> str:
        index = cols.get(key)
        return row[index] if index is not None and index < len(row) else ""

    for number, row in enumerate(rows[1:], start=2):
        code, year_text, result, score_text = (cell(row, k) for k in ("county_code", "round_year", "result", "score"))
        code = code.split(".")[0]  # a spreadsheet may have turned 330523 into 330523.0
        row_errors = len(errors)
        if code not in valid_codes:
            errors.append(RowError(number, "county_code", gettext("Unknown county code %(code)s.", code=code or "—")))
        elif code in seen:
            errors.append(RowError(number, "county_code", gettext("Repeats row %(row)s.", row=seen[code])))
        try:
            year = int(float(year_text))
            if not 2000 <= year <= 2100:
                raise ValueError
        except ValueError:
            errors.append(RowError(number, "round_year", gettext("Not a year: %(value)s.", value=year_text or "—")))
            year = None
        if result not in RESULTS:
            errors.append(
                RowError(number, "result", gettext("Must be one of: %(choices)s.", choices="、".join(RESULTS)))
            )
        score = None
        if score_text:
            try:
                score = float(score_text)
                if not 0 <= score <= 100:
                    raise ValueError
            except ValueError:
                errors.append(
                    RowError(number, "score", gettext("Must be between %(min)s and %(max)s.", min=0, max=100))
                )
        if len(errors) == row_errors:
            seen[code] = number
            years.add(year)
            clean.append({"round_year": year, "county_code": code, "result": result, "score": score})
    if len(years) > 1:
        errors.append(
            RowError(
                0,
                "round_year",
                gettext("A file holds one round; it has %(years)s.", years="、".join(map(str, sorted(years)))),
            )
        )
    if errors:
        raise Invalid(
            gettext("%(n)s rows were rejected; nothing was imported.", n=len({e.row for e in errors})),
            rows=[e.__dict__ for e in errors],
        )
    round_year = years.pop()
    db.session.execute(delete(AssessmentResult).where(AssessmentResult.round_year == round_year))
    record = AssessmentImport(
        round_year=round_year, filename=filename[:255], row_count=len(clean), imported_by_id=user.id
    )
    db.session.add(record)
    db.session.flush()
    db.session.execute(insert(AssessmentResult), [{**row, "import_id": record.id} for row in clean])
    # the applications under way of these counties are scored on the imported result from now on
    codes = [row["county_code"] for row in clean]
    for app in db.session.scalars(
        select(Application).where(Application.county_code.in_(codes), Application.state.in_(SCORED_STATES))
    ):
        reevaluate(app)
    db.session.flush()
    return record


def rounds(user: User) -> list[dict]:
    """Each round with its pass rate against the plan's target (≥ 70%): the nation's, or a province's own."""
    if not can_read_rounds(user):
        raise Forbidden()
    passed = func.sum(case((AssessmentResult.result.in_(PASSING), 1), else_=0))
    stmt = (
        select(AssessmentResult.round_year, func.count(AssessmentResult.id), passed)
        .group_by(AssessmentResult.round_year)
        .order_by(AssessmentResult.round_year.desc())
    )
    if user.role == Role.PROVINCE_REVIEWER:
        own = select(County.code).where(County.province_code == user.province_code)
        stmt = stmt.where(AssessmentResult.county_code.in_(own))
    return [
        {
            "round_year": year,
            "counties": total,
            "passed": int(ok or 0),
            "pass_rate": round((ok or 0) / total, 4),
            "target": PASS_RATE_TARGET,
            "meets_target": (ok or 0) / total >= PASS_RATE_TARGET,
        }
        for year, total, ok in db.session.execute(stmt)
    ]


# built once (read by two guards of every submission): only the values change
_LATEST = (
    select(AssessmentResult)
    .where(AssessmentResult.county_code == bindparam("county_code"), AssessmentResult.round_year <= bindparam("up_to"))
    .order_by(AssessmentResult.round_year.desc())
    .limit(1)
)


def latest_result(county_code: str, up_to_year: int) -> AssessmentResult | None:
    return db.session.scalar(_LATEST, {"county_code": county_code, "up_to": up_to_year})


def rank_expr(county_code_column):
    """For sorting: 0 先进, 1 通过, 2 未通过, 3 never assessed — by the county's latest round."""
    latest = (
        select(case((AssessmentResult.result == "先进", 0), (AssessmentResult.result == "通过", 1), else_=2))
        .where(AssessmentResult.county_code == county_code_column)
        .order_by(AssessmentResult.round_year.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, 3)


@sort_order("assessment")
def _priority(county_code_column) -> tuple:
    """Priority support: in the applications list, the counties that did best in their latest round first."""
    return (rank_expr(county_code_column),)
