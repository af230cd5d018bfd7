"""The workflow's guards: each returns the reasons it refuses, in the user's language (empty = passes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from flask_babel import get_locale, gettext
from sqlalchemy import func, select, text

from kxflow.accounts.models import User
from kxflow.applications.models import Application, Attachment
from kxflow.core.db import db, is_postgres
from kxflow.core.formats import fmt_dt, fmt_num
from kxflow.indicators.evaluate import evaluate
from kxflow.indicators.models import definition_for

# States that hold one of a province's recommendation places in a call.
QUOTA_STATES = (
    "ministry_review",
    "expert_review",
    "site_inspection",
    "publicity",
    "designated",
    "rectification",
    "revoked",
)


@dataclass
class GuardContext:
    application: Application
    actor: User
    comment: str | None
    now: datetime
    _cache: dict[str, list[str]] = field(default_factory=dict)

    def reasons(self, guard: str) -> list[str]:
        if guard not in self._cache:
            self._cache[guard] = GUARDS[guard](self)
        return self._cache[guard]

    def all_reasons(self, guards: tuple[str, ...]) -> list[str]:
        return [reason for guard in guards for reason in self.reasons(guard)]

    @cached_property
    def attachments(self) -> list[tuple[int, str]]:
        """(id, kind) of the application's current attachments, read once per transition."""
        rows = db.session.execute(
            select(Attachment.id, Attachment.kind).where(
                Attachment.application_id == self.application.id, Attachment.superseded_at.is_(None)
            )
        )
        return [(r.id, r.kind) for r in rows]

    @cached_property
    def panel(self):
        """The panel's current assignments and their aggregate, read once per transition."""
        from kxflow.experts.operations import active_assignments, aggregate

        rows = active_assignments(self.application.id)
        return rows, aggregate(self.application, rows)


def comment_given(ctx: GuardContext) -> list[str]:
    if ctx.comment and ctx.comment.strip():
        return []
    return [gettext("A comment (reason) is required for this action.")]


def call_open(ctx: GuardContext) -> list[str]:
    call = ctx.application.call
    if ctx.now < call.opens_at:
        return [gettext("The call opens on %(date)s.", date=fmt_dt(call.opens_at))]
    if ctx.now > call.county_deadline:
        return [gettext("The county deadline (%(date)s) has passed.", date=fmt_dt(call.county_deadline))]
    return []


def indicators_complete(ctx: GuardContext) -> list[str]:
    app = ctx.application
    definition = definition_for(app.call.indicator_set_version)
    result = evaluate(definition, app.indicators or {})
    locale = str(get_locale() or "zh")
    reasons = [
        gettext("Indicator missing: %(label)s.", label=definition.inputs_by_key[key].label(locale))
        for key in result.missing_required
    ]
    reasons += [msg for msgs in result.errors.values() for msg in msgs]
    return reasons


def attachments_present(ctx: GuardContext) -> list[str]:
    app = ctx.application
    definition = definition_for(app.call.indicator_set_version)
    have = {kind for _, kind in ctx.attachments}
    locale = str(get_locale() or "zh")
    return [
        gettext("Attachment missing: %(label)s.", label=definition.kinds[kind].label(locale))
        for kind in definition.required_attachments
        if kind not in have
    ]


def before_province_deadline(ctx: GuardContext) -> list[str]:
    deadline = ctx.application.call.province_deadline
    if ctx.now > deadline:
        return [gettext("The province deadline (%(date)s) has passed.", date=fmt_dt(deadline))]
    return []


def province_quota(ctx: GuardContext) -> list[str]:
    app = ctx.application
    if is_postgres():
        # serialise recommendations of one province in one call, so two reviewers cannot
        # both take the last place
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:call_id, :province)"),
            {"call_id": app.call_id, "province": int(app.province_code)},
        )
    used = db.session.scalar(
        select(func.count(Application.id)).where(
            Application.call_id == app.call_id,
            Application.province_code == app.province_code,
            Application.state.in_(QUOTA_STATES),
            Application.id != app.id,
        )
    )
    quota = app.call.quota_for(app.province_code)
    if used >= quota:
        return [gettext("The province's quota for this call (%(quota)s) is used up.", quota=quota)]
    return []


def assessment_passed(ctx: GuardContext) -> list[str]:
    """Where the call asks for it: the county passed its latest national assessment."""
    call = ctx.application.call
    if not call.requires_assessment_pass:
        return []
    from kxflow.assessments.models import PASSING
    from kxflow.assessments.operations import latest_result

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


def panel_ready(ctx: GuardContext) -> list[str]:
    """At least the call's minimum of experts, none from the county's province or declared in conflict."""
    from kxflow.experts.operations import refusal

    rows, _ = ctx.panel
    reasons = [reason for a in rows if (reason := refusal(a.expert, ctx.application))]
    minimum = ctx.application.call.min_experts
    if len(rows) < minimum:
        reasons.append(gettext("Assign at least %(min)s experts (now %(n)s).", min=minimum, n=len(rows)))
    return reasons


def all_scored(ctx: GuardContext) -> list[str]:
    rows, _ = ctx.panel
    minimum = ctx.application.call.min_experts
    if len(rows) < minimum:
        return [gettext("The panel has %(n)s experts; at least %(min)s are needed.", n=len(rows), min=minimum)]
    waiting = [a.expert.display_name or a.expert.username for a in rows if a.scores is None]
    if waiting:
        return [gettext("Not every expert has scored yet: %(names)s.", names="、".join(waiting))]
    return []


def no_veto_failed(ctx: GuardContext) -> list[str]:
    _, summary = ctx.panel
    if not summary.veto_failures:
        return []
    definition = definition_for(ctx.application.call.indicator_set_version)
    labels = {i.key: i.label(str(get_locale() or "zh")) for i in (*definition.inputs, *definition.computed)}
    names = "、".join(labels.get(k, k) for k in summary.veto_failures)
    return [gettext("A veto item fails, whatever the score: %(items)s.", items=names)]


def aggregate_meets_threshold(ctx: GuardContext) -> list[str]:
    _, summary = ctx.panel
    threshold = ctx.application.call.score_threshold
    if summary.weighted_mean is None or not summary.complete:
        return []  # all_scored already says what is missing
    if summary.weighted_mean < threshold:
        return [
            gettext(
                "The panel's score %(score)s is below the call's threshold %(threshold)s.",
                score=fmt_num(summary.weighted_mean),
                threshold=fmt_num(threshold),
            )
        ]
    return []


def inspection_set(ctx: GuardContext) -> list[str]:
    from kxflow.inspections.operations import latest

    if latest(ctx.application.id, "site") is None:
        return [gettext("Set the site inspection's date, place and team first.")]
    return []


def report_recorded(ctx: GuardContext) -> list[str]:
    from kxflow.inspections.operations import latest

    inspection = latest(ctx.application.id, "site")
    if inspection is None or inspection.report is None:
        return [gettext("The site inspection's report has not been recorded.")]
    return []


def notice_over(ctx: GuardContext) -> list[str]:
    ends = ctx.application.publicity_ends_at
    if ends is not None and ctx.now < ends:
        return [gettext("The public notice runs until %(date)s.", date=fmt_dt(ends))]
    return []


def _objections(ctx: GuardContext, status: str) -> int:
    from kxflow.publicity.models import Objection

    return db.session.scalar(
        select(func.count(Objection.id)).where(
            Objection.application_id == ctx.application.id, Objection.status == status
        )
    )


def no_open_objection(ctx: GuardContext) -> list[str]:
    count = _objections(ctx, "open")
    if count:
        return [gettext("%(n)s objection(s) are still open; resolve each first.", n=count)]
    return []


def objection_upheld(ctx: GuardContext) -> list[str]:
    if not _objections(ctx, "upheld"):
        return [gettext("No objection has been upheld.")]
    return []


def _recheck_since(ctx: GuardContext):
    """The latest re-check reported since the application entered its current stage."""
    from kxflow.inspections.operations import latest

    inspection = latest(ctx.application.id, "recheck")
    if inspection is None or inspection.report is None:
        return None
    return inspection.report if inspection.report.recorded_at >= ctx.application.state_changed_at else None


def recheck_failed(ctx: GuardContext) -> list[str]:
    report = _recheck_since(ctx)
    if report is None or report.result != "unsatisfactory":
        return [gettext("Only a re-check graded unsatisfactory leads to rectification.")]
    return []


def recheck_passed(ctx: GuardContext) -> list[str]:
    report = _recheck_since(ctx)
    if report is None or report.result == "unsatisfactory":
        return [gettext("Record a re-check after rectification graded excellent or satisfactory first.")]
    return []


GUARDS: dict[str, Callable[[GuardContext], list[str]]] = {
    "panel_ready": panel_ready,
    "all_scored": all_scored,
    "no_veto_failed": no_veto_failed,
    "aggregate_meets_threshold": aggregate_meets_threshold,
    "inspection_set": inspection_set,
    "report_recorded": report_recorded,
    "notice_over": notice_over,
    "no_open_objection": no_open_objection,
    "objection_upheld": objection_upheld,
    "recheck_failed": recheck_failed,
    "recheck_passed": recheck_passed,
    "assessment_passed": assessment_passed,
    "comment_given": comment_given,
    "call_open": call_open,
    "indicators_complete": indicators_complete,
    "attachments_present": attachments_present,
    "before_province_deadline": before_province_deadline,
    "province_quota": province_quota,
}
