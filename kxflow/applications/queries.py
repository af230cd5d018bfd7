"""Finding applications: the scoped, filtered, sorted, paged list and the task inbox (API and web share it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core import clock, paging
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.regions.models import County
from kxflow.reminders.operations import PRESSERS, sla_deadline
from kxflow.workflow import holders
from kxflow.workflow.models import Application
from kxflow.workflow.scope import applications_for, followed_up
from kxflow.workflow.triggers import HOLDER_ROLE

SORTS = ("deadline", "score", "updated", "assessment")
# orders other features contribute: name -> function of the query's county column giving ORDER BY terms
EXTRA_ORDERS: dict[str, Callable[[Any], tuple]] = {}


def sort_order(name: str) -> Callable[[Callable[[Any], tuple]], Callable[[Any], tuple]]:
    """Registers an order of the list that another feature owns (the assessments' ranking)."""

    def register(fn: Callable[[Any], tuple]) -> Callable[[Any], tuple]:
        EXTRA_ORDERS[name] = fn
        return fn

    return register


# the pages show each row's province: load it with the rows, not one query per row
_with_province = joinedload(Application.county).joinedload(County.province)


def deadline_expr():
    """When the stage an application stands at is due: stored on its row (``due_at``)."""
    return Application.due_at


def deadline_of(app: Application) -> datetime | None:
    return app.due_at


@dataclass(frozen=True)
class Urgency:
    deadline: datetime | None
    days_left: int | None  # calendar days in Beijing time; negative once overdue
    overdue: bool
    waited_too_long: bool = False  # past the call's time limit for this level
    time_limit: datetime | None = None  # the level's working-day time limit, where it has one
    flagged: bool = False  # 逾期未提交: a draft not sent by its due date


def urgency(app: Application, now: datetime | None = None) -> Urgency:
    now = now or clock.now()
    limit = sla_deadline(app)
    late = limit is not None and limit < now
    deadline = deadline_of(app)
    flagged = app.overdue_since is not None
    if deadline is None:
        return Urgency(None, None, False, late, limit, flagged)
    days = (deadline.astimezone(CHINA).date() - now.astimezone(CHINA).date()).days
    return Urgency(deadline, days, deadline < now, late, limit if limit != deadline else None, flagged)


@dataclass
class Page:
    items: list[Application]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(
    user: User,
    *,
    state: str | None = None,
    call_id: int | None = None,
    province: str | None = None,
    county: str | None = None,
    q: str | None = None,
    sort: str = "updated",
    page: int = 1,
    per_page: int = 20,
) -> Page:
    stmt = applications_for(user)
    if state:
        stmt = stmt.where(Application.state == state)
    if call_id:
        stmt = stmt.where(Application.call_id == call_id)
    if province:
        stmt = stmt.where(Application.province_code == province)
    if county:
        stmt = stmt.where(Application.county_code == county)
    if q:
        names = select(County.code).where(County.name.contains(q.strip()))
        stmt = stmt.where(Application.county_code.in_(names))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    if sort == "deadline":
        deadline = deadline_expr()
        order = (deadline.is_(None), deadline, Application.id)
        stmt = stmt.join(Call, Call.id == Application.call_id)
    elif sort in EXTRA_ORDERS:  # e.g. priority support: the best in the latest assessment first
        order = (*EXTRA_ORDERS[sort](Application.county_code), Application.score.desc(), Application.id)
    elif sort == "score":
        order = (Application.score.desc(), Application.id)
    else:
        order = (Application.updated_at.desc(), Application.id.desc())
    items = db.session.scalars(
        stmt.options(_with_province).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page)


def _tasks(
    user: User, q: str | None = None, call_id: int | None = None, overdue: bool = False, *, mine_first: bool = False
):
    waiting = [state for state, role in HOLDER_ROLE.items() if role == user.role]
    deadline = deadline_expr()
    stmt = (
        applications_for(user)
        .join(Call, Call.id == Application.call_id)
        .where(Application.state.in_(waiting or ["-"]))
        .options(_with_province)
    )
    urgency_order = (deadline.is_(None), deadline, Application.state_changed_at, Application.id)
    if mine_first:
        stmt = holders.with_claim(stmt).order_by(holders.inbox_rank(user), *urgency_order)
    else:
        stmt = stmt.order_by(*urgency_order)
    if q:
        names = select(County.code).where(County.name.ilike(f"%{q}%"))
        stmt = stmt.where(Application.county_code.in_(names))
    if call_id:
        stmt = stmt.where(Application.call_id == call_id)
    if overdue:
        stmt = stmt.where(deadline < clock.now())
    return stmt


def tasks_filtered(user: User, *, q: str | None, call_id: int | None, overdue: bool, page: int) -> paging.Page:
    """One page of 我的待办, by county name, by call, or only the overdue: mine first (held by me, by someone I
    stand in for, or delegated to me), then my unit's unclaimed, then those colleagues hold; most urgent first
    within each. Ordered and paged in the database."""
    return paging.paginate(_tasks(user, q, call_id, overdue, mine_first=True), page)


def counts_by_state(user: User) -> dict[str, int]:
    stmt = select(Application.state, func.count()).where(applications_for(user).whereclause).group_by(Application.state)
    return dict(db.session.execute(stmt).all())


@dataclass
class FollowUp:
    """Applications of one county in one call never sent to the level looking: how many, none of their content."""

    call_id: int
    county_code: str
    county_name: str
    unsent: int
    flagged: int  # 逾期未提交
    earliest_due: datetime | None
    application_ids: list[int]  # for an extension or 催办 from above, never to open them
    pressable: bool = False  # the one application waits at a stage this user may press (催办)


def follow_up(user: User) -> list[FollowUp]:
    rows = db.session.execute(
        select(Application.call_id, Application.county_code, County.name, Application.id, Application.due_at)
        .add_columns(Application.overdue_since, Application.state)
        .join(County, County.code == Application.county_code)
        .where(followed_up(user))
        .order_by(Application.call_id, Application.county_code, Application.id)
    ).all()
    out: dict[tuple[int, str], FollowUp] = {}
    for call_id, code, name, app_id, due, flagged, state in rows:
        entry = out.setdefault((call_id, code), FollowUp(call_id, code, name, 0, 0, None, []))
        entry.pressable = entry.unsent == 0 and user.role in PRESSERS.get(state, set())
        entry.unsent += 1
        entry.flagged += flagged is not None
        entry.application_ids.append(app_id)
        if due is not None and (entry.earliest_due is None or due < entry.earliest_due):
            entry.earliest_due = due
    return list(out.values())
