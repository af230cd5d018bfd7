"""The guards of the national assessment: where a call asks for it, the county passed its latest round; and
the result a county declares agrees with the imported round (which is what it is scored on)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from kxflow.applications.operations import value_override
from kxflow.assessments.models import PASSING
from kxflow.assessments.operations import latest_result
from kxflow.workflow.guards import GuardContext, guard
from kxflow.workflow.models import Application

RESULT_KEY, YEAR_KEY = "latest_assessment_result", "latest_assessment_year"


@guard("assessment_passed")
def assessment_passed(ctx: GuardContext) -> list[str]:
    call = ctx.application.call
    if not call.requires_assessment_pass:
        return []
    latest = latest_result(ctx.application.county_code, call.year)
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
    latest = latest_result(app.county_code, app.call.year)
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
