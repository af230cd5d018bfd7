"""Planning, cancelling and sending reminders, and pressing for action (催办).

A reminder is planned when an application enters a stage and cancelled when it leaves it, so
nobody is reminded of work already done. The scan turns due reminders into notifications (the
outbox), once each: the reminder's ``sent_at`` and its notifications commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.core import clock, limits
from kxflow.core.db import db
from kxflow.core.errors import Conflict, Forbidden
from kxflow.core.fields import CHINA
from kxflow.core.locks import exclusive
from kxflow.notifications.operations import in_scope, notify_users
from kxflow.reminders.models import REMINDER_KINDS, Reminder
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_application, visible
from kxflow.workflow.states import AT_COUNTY, BEFORE_MINISTRY, State
from kxflow.workflow.triggers import HOLDER_ROLE

# waiting-time limits: the stage, the call's setting, and who is told when the grace runs out
SLA = {
    State.COUNTY_REVIEW: ("sla_county_days", Role.PROVINCE_REVIEWER),
    State.PROVINCE_REVIEW: ("sla_province_days", Role.MINISTRY_STAFF),
    State.MINISTRY_REVIEW: ("sla_ministry_days", None),
}
# who may press whom: the holder's stage → the roles above it
PRESSERS = {
    State.DRAFT: {Role.COUNTY_LEADER},
    State.COUNTY_REVIEW: {Role.PROVINCE_REVIEWER, Role.MINISTRY_STAFF},
    State.PROVINCE_REVIEW: {Role.MINISTRY_STAFF},
}
# the kinds planned for the stage an application is in, cancelled when it leaves it
STAGE_KINDS = ("county_deadline", "province_deadline", "sla", "escalation", "publicity_end", "expert_due")


# --- who sends each kind (features register the kinds they own) ---------------------------------


@dataclass(frozen=True)
class KindHandler:
    send: Callable[[Reminder], int]  # writes the notifications and marks the reminder sent or cancelled
    reaches: Callable[[User, Reminder], bool]  # would this user receive it (for "my upcoming reminders")


HANDLERS: dict[str, KindHandler] = {}
# reminders a user may see beyond those of the applications in their scope (e.g. their inspections')
EXTRA_VISIBLE: list[Callable[[User], ColumnElement[bool]]] = []


def reminder_kind(*kinds: str, reaches: Callable[[User, Reminder], bool]):
    """``@reminder_kind("inspection_soon", reaches=...)`` registers the sender of the kinds a feature owns."""

    def register(send: Callable[[Reminder], int]) -> Callable[[Reminder], int]:
        for kind in kinds:
            HANDLERS[kind] = KindHandler(send, reaches)
        return send

    return register


def check_registered() -> None:
    missing = sorted(set(REMINDER_KINDS) - set(HANDLERS))
    if missing:
        raise RuntimeError(f"reminder kinds no feature sends: {', '.join(missing)}")


EXPERT_REMIND_DAYS_BEFORE = (3, 0)  # experts who have not scored: three days before, and on the day


def expert_review_due(app: Application) -> datetime:
    return app.state_changed_at + timedelta(days=app.call.expert_review_days)


def sla_deadline(app: Application) -> datetime | None:
    setting = SLA.get(app.state)
    if setting is None:
        return None
    return app.state_changed_at + timedelta(days=getattr(app.call, setting[0]))


def _cancel_pending(app: Application, kinds: tuple[str, ...]) -> None:
    db.session.execute(
        update(Reminder)
        .where(
            Reminder.application_id == app.id,
            Reminder.kind.in_(kinds),
            Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None),
        )
        .values(cancelled_at=clock.now())
    )


def _plan(app: Application, tag: str, *, deadlines: bool = True, sla: bool = True) -> None:
    now = clock.now()
    call = app.call
    rows: list[dict] = []

    def add(kind: str, due: datetime, offset: int | None = None) -> None:
        if due > now:
            rows.append(
                {
                    "application_id": app.id,
                    "kind": kind,
                    "state": app.state,
                    "offset_days": offset,
                    "due_at": due,
                    "dedupe_key": f"{kind}:{app.id}:{tag}:{offset}",
                    "params": {},
                    "created_at": now,
                }
            )

    if deadlines and app.state in AT_COUNTY:
        for days in call.reminder_offsets_days:
            add("county_deadline", call.county_deadline - timedelta(days=days), days)
    if deadlines and app.state == State.PROVINCE_REVIEW:
        for days in call.reminder_offsets_days:
            add("province_deadline", call.province_deadline - timedelta(days=days), days)
    if sla and app.state in SLA:
        limit_days = getattr(call, SLA[app.state][0])
        add("sla", app.state_changed_at + timedelta(days=limit_days), limit_days)
        if SLA[app.state][1] is not None:
            add(
                "escalation", app.state_changed_at + timedelta(days=limit_days + call.escalation_grace_days), limit_days
            )
    if app.state == State.PUBLICITY and app.publicity_ends_at is not None:
        add("publicity_end", app.publicity_ends_at)
    if app.state == State.EXPERT_REVIEW:
        due = expert_review_due(app)
        for days in EXPERT_REMIND_DAYS_BEFORE:
            add("expert_due", due - timedelta(days=days), days)
    if rows:
        db.session.execute(insert(Reminder), rows)


def plan_for_stage(app: Application, entered_by: str) -> None:
    """Cancels the reminders of the stage the application left and plans those of the one it is in."""
    _cancel_pending(app, STAGE_KINDS)
    _plan(app, entered_by)


def replan_deadlines(call_id: int) -> None:
    """After a call's deadlines or offsets change: its open applications get reminders on the new dates."""
    tag = f"c{int(clock.now().timestamp())}"
    apps = db.session.scalars(
        select(Application).where(Application.call_id == call_id, Application.state.in_(BEFORE_MINISTRY))
    )
    for app in apps:
        _cancel_pending(app, ("county_deadline", "province_deadline"))
        _plan(app, tag, sla=False)


def _recipients(app: Application, role: Role) -> list[int]:
    stmt = select(User.id).where(in_scope(role, app), User.active.is_(True)).order_by(User.id)
    return list(db.session.scalars(stmt))


def deliver(reminder: Reminder, recipients: Callable[[Application], list[int]], **params: Any) -> int:
    """Sends an application's reminder to ``recipients(app)``, unless the application has moved on (then cancels it)."""
    app = db.session.get(Application, reminder.application_id)
    now = clock.now()
    if app.state != reminder.state:
        reminder.cancelled_at = now
        return 0
    written = notify_users(
        recipients(app),
        application_id=app.id,
        event=reminder.kind,
        params={
            "county": app.county.name,
            "state": app.state,
            "offset_days": reminder.offset_days,
            **reminder.params,
            **params,
        },
        dedupe_prefix=f"reminder:{reminder.id}",
    )
    reminder.sent_at = now
    return written


def reaches_holder(user: User, reminder: Reminder) -> bool:
    return HOLDER_ROLE.get(reminder.state) == user.role


@reminder_kind("county_deadline", "province_deadline", "sla", "press", "publicity_end", reaches=reaches_holder)
def _to_holder(reminder: Reminder) -> int:
    app = db.session.get(Application, reminder.application_id)
    params = {}
    if reminder.kind == "county_deadline":
        params["deadline"] = app.call.county_deadline.isoformat()
    elif reminder.kind == "province_deadline":
        params["deadline"] = app.call.province_deadline.isoformat()
    return deliver(reminder, lambda app: _recipients(app, HOLDER_ROLE[app.state]), **params)


@reminder_kind("escalation", reaches=lambda user, r: SLA.get(r.state, (None, None))[1] == user.role)
def _to_level_above(reminder: Reminder) -> int:
    return deliver(reminder, lambda app: _recipients(app, SLA[app.state][1]))


def send_one(reminder_id: int) -> int:
    """Sends one due reminder (or cancels it if the work moved on). Returns notifications written."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.sent_at is not None or reminder.cancelled_at is not None:
        return 0
    return HANDLERS[reminder.kind].send(reminder)


def scan_due(limit: int = 500) -> int | None:
    """One scan: every due reminder in its own transaction. None when another scan holds the lock."""
    with exclusive("reminder-scan") as held:
        if not held:
            return None
        due = db.session.scalars(
            select(Reminder.id)
            .where(Reminder.due_at <= clock.now(), Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None))
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        ).all()
        written = 0
        for reminder_id in due:
            written += send_one(reminder_id)
            db.session.commit()
        return written


def can_press(user: User, app: Application) -> bool:
    """催办 is for a level above the one holding the application."""
    return user.role in PRESSERS.get(app.state, set())


def press(user: User, application_id: int, comment: str | None = None) -> Reminder:
    """催办: a user above the holder sends an immediate reminder; once per application per day; audited."""
    limits.require_length("comment", comment, limits.PRESS_COMMENT)
    app = get_application(user, application_id, for_update=True)
    if not can_press(user, app):
        raise Forbidden(gettext("Only a level above the current holder can press for action."))
    now = clock.now()
    day = now.astimezone(CHINA).date().isoformat()
    key = f"press:{app.id}:{day}"
    if db.session.scalar(select(Reminder.id).where(Reminder.dedupe_key == key)) is not None:
        raise Conflict(gettext("This application was already pressed today."))
    reminder = Reminder(
        application_id=app.id,
        kind="press",
        state=app.state,
        due_at=now,
        dedupe_key=key,
        params={"by": user.display_name or user.username},
        created_at=now,
    )
    db.session.add(reminder)
    db.session.flush()
    audit_trail.append(app, user, "press", from_state=app.state, at=now, comment=(comment or "").strip() or None)
    send_one(reminder.id)
    db.session.flush()
    return reminder


def upcoming_for(user: User, limit: int = 100) -> list[Reminder]:
    """The reminders still to come that will reach this user (their holder role, or their inspections)."""
    rows = db.session.scalars(
        select(Reminder)
        .join(Application, Application.id == Reminder.application_id)
        .where(Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None), Reminder.kind != "press")
        .where(or_(visible(user), *(clause(user) for clause in EXTRA_VISIBLE)))
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit * 3)
    ).all()
    return [r for r in rows if HANDLERS[r.kind].reaches(user, r)][:limit]
