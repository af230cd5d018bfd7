"""The guards of expert review: a panel of the call's minimum, everyone scored, no veto, the threshold met."""

from __future__ import annotations

from flask_babel import get_locale, gettext

from kxflow.core.formats import fmt_num
from kxflow.experts.models import Assignment
from kxflow.experts.operations import Aggregate, active_assignments, aggregate
from kxflow.indicators.models import definition_for
from kxflow.workflow.guards import GuardContext, guard


def _panel(ctx: GuardContext) -> tuple[list[Assignment], Aggregate]:
    """The panel's current assignments and their aggregate, read once per transition."""

    def read() -> tuple[list[Assignment], Aggregate]:
        rows = active_assignments(ctx.application.id)
        return rows, aggregate(ctx.application, rows)

    return ctx.fact("panel", read)


@guard("all_scored")
def all_scored(ctx: GuardContext) -> list[str]:
    rows, _ = _panel(ctx)
    minimum = ctx.application.call.min_experts
    if len(rows) < minimum:
        return [gettext("The panel has %(n)s experts; at least %(min)s are needed.", n=len(rows), min=minimum)]
    waiting = [a.expert.display_name or a.expert.username for a in rows if a.scores is None]
    if waiting:
        return [gettext("Not every expert has scored yet: %(names)s.", names="、".join(waiting))]
    return []


@guard("no_veto_failed")
def no_veto_failed(ctx: GuardContext) -> list[str]:
    _, summary = _panel(ctx)
    if not summary.veto_failures:
        return []
    definition = definition_for(ctx.application.call.indicator_set_version)
    labels = {i.key: i.label(str(get_locale() or "zh")) for i in (*definition.inputs, *definition.computed)}
    names = "、".join(labels.get(k, k) for k in summary.veto_failures)
    return [gettext("A veto item fails, whatever the score: %(items)s.", items=names)]


@guard("aggregate_meets_threshold")
def aggregate_meets_threshold(ctx: GuardContext) -> list[str]:
    _, summary = _panel(ctx)
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
