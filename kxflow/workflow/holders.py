"""Who handles an application at its level: the unit (a role in a scope) until one person claims it, their
deputies while they are away, and the one rule every trigger passes through (``require_may_act``).

A unit is the role that holds the application's stage (``HOLDER_ROLE``) in the application's scope: its
county's leaders, its province's reviewers, the ministry's staff. A claim names one member of that unit as
the holder of the application *at that stage*; when the application leaves the stage the claim is over
(cleared by ``clear_if_moved``, and never read for another stage). A deputy, named for a date range, acts
for the one who named them while the range runs: on the tasks that person holds and with their reminders.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    and_,
    bindparam,
    case,
    inspect,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, lazyload, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Conflict
from kxflow.core.fields import CHINA
from kxflow.core.types import UTCDateTime
from kxflow.workflow.models import Application
from kxflow.workflow.triggers import HOLDER_ROLE


class TaskHolder(db.Model):
    """The one person handling an application at the stage it stood at when they claimed it (or were handed it),
    and the colleague asked to examine it for them (委派) until that colleague reports back."""

    __tablename__ = "task_holders"
    __table_args__ = (CheckConstraint("delegate_id IS NULL OR delegate_id <> holder_id", name="delegate_not_holder"),)

    # one holder per application: of two people claiming at once, the second gets a conflict
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    holder_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    delegated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    holder: Mapped[User] = relationship(foreign_keys=[holder_id], lazy="joined")
    delegate: Mapped[User | None] = relationship(foreign_keys=[delegate_id], lazy="joined")


class Deputy(db.Model):
    """A colleague of the same unit who acts for a user from ``starts_on`` to ``ends_on`` (dates in Beijing)."""

    __tablename__ = "deputies"
    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="range_in_order"),
        CheckConstraint("deputy_id <> user_id", name="not_oneself"),
        Index("ix_deputies_deputy_range", "deputy_id", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    deputy: Mapped[User] = relationship(foreign_keys=[deputy_id], lazy="joined")

    def runs_on(self, day: date) -> bool:
        return self.cancelled_at is None and self.starts_on <= day <= self.ends_on


def today() -> date:
    return clock.now().astimezone(CHINA).date()


def unit_role(app: Application) -> Role | None:
    """The role whose unit holds the application at its stage (None: nobody acts on it now)."""
    return HOLDER_ROLE.get(app.state)


def unit_clause(role: Role, app: Application) -> ColumnElement[bool]:
    """Users of ``role`` in the application's scope: its county, its province, or the ministry."""
    clause = User.role == role
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        clause = and_(clause, User.county_code == app.county_code)
    elif role == Role.PROVINCE_REVIEWER:
        clause = and_(clause, User.province_code == app.province_code)
    return clause


def same_unit(a: User, b: User) -> bool:
    """Same role in the same scope (a county, a province, the ministry)."""
    return a.role == b.role and a.county_code == b.county_code and a.province_code == b.province_code


def in_unit(user: User, app: Application) -> bool:
    role = unit_role(app)
    if role is None or user.role != role:
        return False
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        return user.county_code == app.county_code
    if role == Role.PROVINCE_REVIEWER:
        return user.province_code == app.province_code
    return True


def claim_row(app: Application) -> TaskHolder | None:
    """The application's claim row, of whichever stage (one per application).

    The holder and the delegate are read when asked for (usually from the session), not joined: most
    applications are unclaimed, and the joined users only made this frequent query wide. Read with a statement built
    once (``session.get`` with options built its query anew on every call: half the cost of the read); a row the
    session already holds is taken from it, with no statement, as ``session.get`` does."""
    if _HOLDERS.identity_key_from_primary_key((app.id,)) in db.session.identity_map:
        return db.session.get(TaskHolder, app.id, options=UNJOINED)
    return db.session.scalars(_CLAIM_ROW, {"application_id": app.id}).first()


def of_stage(row: TaskHolder | None, app: Application) -> TaskHolder | None:
    """The claim row if it is a claim on the stage the application stands at now (one of an earlier stage is over)."""
    return row if row is not None and row.state == app.state else None


def current(app: Application) -> TaskHolder | None:
    """The claim on the application at the stage it stands at now (a claim of an earlier stage is over)."""
    return of_stage(claim_row(app), app)


UNJOINED = (lazyload(TaskHolder.holder), lazyload(TaskHolder.delegate))
_HOLDERS = inspect(TaskHolder)
_CLAIM_ROW = select(TaskHolder).where(TaskHolder.application_id == bindparam("application_id")).options(*UNJOINED)


def running_deputies(user_ids: list[int], day: date | None = None) -> list[Deputy]:
    """The deputy arrangements of these users that run on ``day`` (today)."""
    if not user_ids:
        return []
    day = day or today()
    return list(
        db.session.scalars(
            select(Deputy)
            .where(
                Deputy.user_id.in_(user_ids),
                Deputy.cancelled_at.is_(None),
                Deputy.starts_on <= day,
                Deputy.ends_on >= day,
            )
            .order_by(Deputy.id)
        )
    )


def _acting_for(user: User, day: date | None = None):
    day = day or today()
    return select(Deputy.user_id).where(
        Deputy.deputy_id == user.id,
        Deputy.cancelled_at.is_(None),
        Deputy.starts_on <= day,
        Deputy.ends_on >= day,
    )


def acting_for(user: User, day: date | None = None) -> list[int]:
    """The users this user stands in for today (their deputy arrangements that run)."""
    return list(db.session.scalars(_acting_for(user, day)))


def with_claim(stmt):
    """``stmt`` over applications with the claim on each at its present stage outer-joined (for ``inbox_rank``)."""
    return stmt.outerjoin(
        TaskHolder, and_(TaskHolder.application_id == Application.id, TaskHolder.state == Application.state)
    )


def inbox_rank(user: User) -> ColumnElement[int]:
    """我的待办's groups, in SQL over ``with_claim``: 0 mine (held by me, by someone I stand in for today, or
    delegated to me), 1 my unit's unclaimed, 2 held by a colleague."""
    return case(
        (TaskHolder.application_id.is_(None), 1),
        (
            or_(
                TaskHolder.holder_id == user.id,
                TaskHolder.holder_id.in_(_acting_for(user)),
                TaskHolder.delegate_id == user.id,
            ),
            0,
        ),
        else_=2,
    )


def is_deputy_of(user: User, holder_id: int) -> bool:
    return holder_id in acting_for(user)


def may_act(user: User, app: Application, holder: TaskHolder | None = None) -> bool:
    """At the application's level: anyone of the unit while unclaimed; once claimed, the holder, a deputy of the
    holder whose range runs, or a lead of the unit. A user outside the holding unit is not concerned here."""
    holder = holder if holder is not None else current(app)
    if holder is None or not in_unit(user, app):
        return True
    return user.id == holder.holder_id or bool(user.is_lead) or is_deputy_of(user, holder.holder_id)


def holder_name(user: User) -> str:
    return user.display_name or user.username


def require_may_act(user: User, app: Application) -> None:
    """409 naming the holder when the application is claimed by someone else at this level."""
    require_may_act_with(user, app, current(app))


def require_may_act_with(user: User, app: Application, holder: TaskHolder | None) -> None:
    """``require_may_act`` with the claim already read (``current(app)``, None: unclaimed)."""
    if holder is not None and not may_act(user, app, holder):
        raise Conflict(
            gettext(
                "%(name)s is handling this application; only they (or their deputy, or a lead) may act on it now.",
                name=holder_name(holder.holder),
            ),
            holder=holder_name(holder.holder),
            holder_id=holder.holder_id,
        )


def on_behalf(user: User, app: Application, holder: TaskHolder | None) -> dict[str, object]:
    """For the timeline: the deputy acts in their own name, "代 X 办理" (the holder they stand in for). ``holder``:
    the claim on the application (``current(app)``, None: unclaimed)."""
    if holder is None or holder.holder_id == user.id or not is_deputy_of(user, holder.holder_id):
        return {}
    return {"on_behalf_of": holder.holder_id, "on_behalf_name": holder_name(holder.holder)}


def clear_if_moved(app: Application, from_state: str, row: TaskHolder | None) -> None:
    """The claim of a stage ends when the application leaves it. ``row``: its claim row as read in this transaction
    (``claim_row``) with the application row locked, so none can have been added since: without one there is
    nothing to delete and no statement. (A claim of an earlier stage left behind would be over anyway: ``of_stage``
    ignores it and the next claim replaces it.)"""
    if app.state != from_state and row is not None:
        db.session.delete(row)


def recipients(app: Application) -> list[int] | None:
    """Who a reminder of the present stage goes to when the application is claimed: the holder and their running
    deputies (None: unclaimed, it goes to the whole unit)."""
    holder = current(app)
    if holder is None:
        return None
    ids = [holder.holder_id, *(d.deputy_id for d in running_deputies([holder.holder_id]))]
    active = set(db.session.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(true()))))
    return [i for i in dict.fromkeys(ids) if i in active]
