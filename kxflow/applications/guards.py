"""The guards of an application's own facts: the call's dates, the form, the files, the quota, a comment.

Each is registered under the name the trigger table uses; the guards of panels, inspections,
objections and assessment results live with the features that own those facts.
"""

from __future__ import annotations

from flask_babel import get_locale, gettext
from sqlalchemy import func, select

from kxflow.calls.operations import quota_use
from kxflow.core.db import db, is_postgres
from kxflow.core.formats import fmt_dt
from kxflow.indicators.evaluate import evaluate
from kxflow.indicators.models import definition_for
from kxflow.workflow.guards import GuardContext, guard


@guard("comment_given")
def comment_given(ctx: GuardContext) -> list[str]:
    if ctx.comment and ctx.comment.strip():
        return []
    return [gettext("A comment (reason) is required for this action.")]


@guard("call_open")
def call_open(ctx: GuardContext) -> list[str]:
    call = ctx.application.call
    if ctx.now < call.opens_at:
        return [gettext("The call opens on %(date)s.", date=fmt_dt(call.opens_at))]
    if ctx.now > call.county_deadline:
        return [gettext("The county deadline (%(date)s) has passed.", date=fmt_dt(call.county_deadline))]
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
    deadline = ctx.application.call.province_deadline
    if ctx.now > deadline:
        return [gettext("The province deadline (%(date)s) has passed.", date=fmt_dt(deadline))]
    return []


@guard("province_quota")
def province_quota(ctx: GuardContext) -> list[str]:
    app = ctx.application
    if is_postgres():
        # serialise recommendations of one province in one call, so two reviewers cannot
        # both take the last place
        db.session.execute(select(func.pg_advisory_xact_lock(app.call_id, int(app.province_code))))
    use = quota_use(app.call, app.province_code, excluding=app.id)
    if use.left <= 0:
        return [gettext("The province's quota for this call (%(quota)s) is used up.", quota=use.quota)]
    return []
