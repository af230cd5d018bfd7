"""The guards of the public notice: the window is over, and every objection has been resolved."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import func, select

from kxflow.core.db import db
from kxflow.core.formats import fmt_dt
from kxflow.publicity.models import Objection
from kxflow.workflow.guards import GuardContext, guard


@guard("notice_over")
def notice_over(ctx: GuardContext) -> list[str]:
    ends = ctx.application.publicity_ends_at
    if ends is not None and ctx.now < ends:
        return [gettext("The public notice runs until %(date)s.", date=fmt_dt(ends))]
    return []


def _objections(ctx: GuardContext, status: str) -> int:
    return db.session.scalar(
        select(func.count(Objection.id)).where(
            Objection.application_id == ctx.application.id, Objection.status == status
        )
    )


@guard("no_open_objection")
def no_open_objection(ctx: GuardContext) -> list[str]:
    count = _objections(ctx, "open")
    if count:
        return [gettext("%(n)s objection(s) are still open; resolve each first.", n=count)]
    return []


@guard("objection_upheld")
def objection_upheld(ctx: GuardContext) -> list[str]:
    if not _objections(ctx, "upheld"):
        return [gettext("No objection has been upheld.")]
    return []
