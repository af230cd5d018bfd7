"""The guards of an application's own facts: the call's dates, the form, the files, the quota, a comment.

Each is registered under the name the trigger table uses; the guards of panels, inspections,
objections and assessment results live with the features that own those facts.
"""

from __future__ import annotations

from flask_babel import get_locale, gettext
from sqlalchemy import func, select

from kxflow.applications.operations import eligibility_refusal, title_dates
from kxflow.calls.operations import quota_use
from kxflow.core.db import db, is_postgres
from kxflow.core.formats import fmt_dt
from kxflow.indicators.evaluate import evaluate
from kxflow.indicators.models import definition_for
from kxflow.workflow.guards import GuardContext, guard
from kxflow.workflow.models import Application


@guard("comment_given")
def comment_given(ctx: GuardContext) -> list[str]:
    if ctx.comment and ctx.comment.strip():
        return []
    return [gettext("A comment (reason) is required for this action.")]


@guard("call_open")
def call_open(ctx: GuardContext) -> list[str]:
    """Open from the call's opening until the county deadline, or this application's own later date (an
    extension, a reopening, the grace period after a return)."""
    app = ctx.application
    call = app.call
    if ctx.now < call.opens_at:
        return [gettext("The call opens on %(date)s.", date=fmt_dt(call.opens_at))]
    deadline = max(call.county_deadline, app.due_at or call.county_deadline)
    if ctx.now > deadline:
        return [gettext("The county deadline (%(date)s) has passed.", date=fmt_dt(deadline))]
    return []


@guard("indicators_complete")
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


@guard("attachments_present")
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


@guard("before_province_deadline")
def before_province_deadline(ctx: GuardContext) -> list[str]:
    app = ctx.application
    deadline = max(app.call.province_deadline, app.due_at or app.call.province_deadline)
    if ctx.now > deadline:
        return [gettext("The province deadline (%(date)s) has passed.", date=fmt_dt(deadline))]
    return []


@guard("county_eligible")
def county_eligible(ctx: GuardContext) -> list[str]:
    app = ctx.application
    dates = ctx.fact("title_dates", lambda: title_dates(app.county_code))
    refusal = eligibility_refusal(app.county, app.call, ctx.now, dates)
    return [refusal] if refusal else []


def _labels(app: Application) -> dict[str, str]:
    definition = definition_for(app.call.indicator_set_version)
    locale = str(get_locale() or "zh")
    return {i.key: i.label(locale) for i in (*definition.inputs, *definition.computed)}


@guard("no_veto_in_figures")
def no_veto_in_figures(ctx: GuardContext) -> list[str]:
    """一票否决: a veto item the figures fail stops the application at submission, whatever its score."""
    app = ctx.application
    if not app.veto_failures:
        return []
    labels = _labels(app)
    return [
        gettext("Veto item failed (一票否决): %(label)s. The application cannot be submitted.", label=labels.get(k, k))
        for k in app.veto_failures
    ]


def claims(item, value) -> bool:
    """Does the value claim something that needs evidence (a count above zero, a yes, a figure)?"""
    if value is None or value is False:
        return False
    return not (isinstance(value, int | float) and not isinstance(value, bool) and value == 0)


@guard("evidence_present")
def evidence_present(ctx: GuardContext) -> list[str]:
    """An indicator naming an evidence kind needs a file of that kind once the value claims something."""
    app = ctx.application
    definition = definition_for(app.call.indicator_set_version)
    have = {kind for _, kind in ctx.attachments}
    locale = str(get_locale() or "zh")
    missing: dict[str, list[str]] = {}
    for item in definition.inputs:
        kind = item.evidence_kind
        if kind and kind not in have and claims(item, (app.indicators or {}).get(item.key)):
            missing.setdefault(kind, []).append(item.label(locale))
    return [
        gettext(
            "Evidence missing: %(kind)s, for %(items)s.",
            kind=definition.kinds[kind].label(locale),
            items="、".join(items),
        )
        for kind, items in missing.items()
        if kind not in definition.required_attachments  # a required kind is named once, by attachments_present
    ]


@guard("province_quota")
def province_quota(ctx: GuardContext) -> list[str]:
    app = ctx.application
    if is_postgres():
        # serialise recommendations of one province in one call, so two reviewers cannot
        # both take the last place
        db.session.execute(select(func.pg_advisory_xact_lock(app.call_id, int(app.province_code))))
    use = quota_use(app.call, app.province_code, excluding=app.id)
    if use.left <= 0:
        return [
            gettext(
                "The province's quota for this call (%(quota)s) is used up: %(used)s taken, %(left)s left.",
                quota=use.quota,
                used=use.used,
                left=use.left,
            )
        ]
    return []
