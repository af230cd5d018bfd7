"""The guards of inspections: a site inspection set and reported; a re-check graded since the stage began."""

from __future__ import annotations

from flask_babel import gettext

from kxflow.inspections.models import InspectionReport
from kxflow.inspections.operations import latest
from kxflow.workflow.guards import GuardContext, guard


@guard("inspection_set")
def inspection_set(ctx: GuardContext) -> list[str]:
    if latest(ctx.application.id, "site") is None:
        return [gettext("Set the site inspection's date, place and team first.")]
    return []


@guard("report_recorded")
def report_recorded(ctx: GuardContext) -> list[str]:
    inspection = latest(ctx.application.id, "site")
    if inspection is None or inspection.report is None:
        return [gettext("The site inspection's report has not been recorded.")]
    return []


def _recheck_since(ctx: GuardContext) -> InspectionReport | None:
    """The latest re-check reported since the application entered its current stage."""
    inspection = latest(ctx.application.id, "recheck")
    if inspection is None or inspection.report is None:
        return None
    return inspection.report if inspection.report.recorded_at >= ctx.application.state_changed_at else None


@guard("recheck_failed")
def recheck_failed(ctx: GuardContext) -> list[str]:
    report = _recheck_since(ctx)
    if report is None or report.result != "unsatisfactory":
        return [gettext("Only a re-check graded unsatisfactory leads to rectification.")]
    return []


@guard("recheck_passed")
def recheck_passed(ctx: GuardContext) -> list[str]:
    report = _recheck_since(ctx)
    if report is None or report.result == "unsatisfactory":
        return [gettext("Record a re-check after rectification graded excellent or satisfactory first.")]
    return []
