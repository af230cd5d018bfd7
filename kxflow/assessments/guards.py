"""The guards of the national assessment: where a call asks for it, the county passed its latest round; and
the result a county declares agrees with the imported round (which is what it is scored on)."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from kxflow.applications.operations import value_override
from kxflow.assessments.models import PASSING, AssessmentResult
from kxflow.assessments.operations import latest_result
from kxflow.calls.models import Call
from kxflow.workflow.guards import GuardContext, guard, read_with_the_lock
from kxflow.workflow.models import Application

RESULT_KEY, YEAR_KEY = "latest_assessment_result", "latest_assessment_year"


class Latest(NamedTuple):
    result: str
    round_year: int


def _latest_subqueries() -> tuple[ColumnElement, ...]:
    """The result and the year of the locked application's county's latest round up to its call's year, read after
    a submission's row lock (``before_move``), where its call is joined."""
    latest = (
        select(AssessmentResult.result)
        .where(AssessmentResult.county_code == Application.county_code, AssessmentResult.round_year <= Call.year)
        .order_by(AssessmentResult.round_year.desc())
        .limit(1)
    )
    columns = (AssessmentResult.result, AssessmentResult.round_year)
    return tuple(latest.with_only_columns(column).scalar_subquery() for column in columns)


read_with_the_lock("assessment_passed", "latest_assessment")(_latest_subqueries)
read_with_the_lock("assessment_matches", "latest_assessment")(_latest_subqueries)


def _latest(ctx: GuardContext) -> Latest | None:
    """The county's latest result, read once per transition (with the lock, where it could be)."""
    app = ctx.application

    def read() -> tuple:
        row = latest_result(app.county_code, app.call.year)
        return (row.result, row.round_year) if row is not None else (None, None)

    result, year = ctx.fact("latest_assessment", read)
    return Latest(result, year) if result is not None else None


@guard("assessment_passed")
def assessment_passed(ctx: GuardContext) -> list[str]:
    call = ctx.application.call
    if not call.requires_assessment_pass:
        return []
    latest = _latest(ctx)
    if latest is None:
        return [gettext("Open only to counties that passed the national assessment; yours has no result.")]
    if latest.result not in PASSING:
        return [
            gettext(
                "Open only to counties that passed the national assessment; your %(year)s result is %(result)s.",
                year=latest.round_year,
                result=latest.result,
            )
        ]
    return []


@guard("assessment_matches")
def assessment_matches(ctx: GuardContext) -> list[str]:
    """Where a round has been imported, the declared result and year must be the imported ones."""
    app = ctx.application
    latest = _latest(ctx)
    values = app.indicators or {}
    declared, year = values.get(RESULT_KEY), values.get(YEAR_KEY)
    if latest is None or declared is None:
        return []
    if declared != latest.result or (year is not None and year != latest.round_year):
        return [
            gettext(
                "The declared assessment result (%(declared)s) does not agree with the imported national result: "
                "%(result)s in the %(year)s round. Correct it; the application is scored on the imported result.",
                declared=f"{declared}{f' · {year}' if year is not None else ''}",
                result=latest.result,
                year=latest.round_year,
            )
        ]
    return []


@value_override
def imported_result(app: Application) -> dict[str, Any]:
    """Scoring uses the imported result of the county's latest round, whatever was declared."""
    latest = latest_result(app.county_code, app.call.year)
    if latest is None:
        return {}
    return {RESULT_KEY: latest.result, YEAR_KEY: latest.round_year}
