"""The guard of the national assessment: where a call asks for it, the county passed its latest round."""

from __future__ import annotations

from flask_babel import gettext

from kxflow.assessments.models import PASSING
from kxflow.assessments.operations import latest_result
from kxflow.workflow.guards import GuardContext, guard


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
