"""Planning, cancelling and sending reminders, and pressing for action (催办).

A reminder is planned when an application enters a stage and cancelled when it leaves it, so
nobody is reminded of work already done. The scan turns due reminders into notifications (the
outbox), once each: the reminder's ``sent_at`` and its notifications commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import JSON, Integer, String, and_, any_, bindparam, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.core import clock, limits
from kxflow.core.db import db, is_postgres
from kxflow.core.errors import Conflict, Forbidden
from kxflow.core.fields import CHINA
from kxflow.core.locks import exclusive
from kxflow.core.types import UTCDateTime
from kxflow.notifications.operations import in_scope, notify_users
from kxflow.reminders.models import REMINDER_KINDS, Reminder, pending
from kxflow.workdays.calendar import add_workdays, on_workday_after, subtract_workdays
from kxflow.workflow import audit as audit_trail
from kxflow.workflow import holders
from kxflow.workflow.audit import MOVE_GATE, Write
from kxflow.workflow.models import Application
from kxflow.workflow.scope import followed_up, get_followed, visible
from kxflow.workflow.states import BEFORE_MINISTRY, State
from kxflow.workflow.triggers import HOLDER_ROLE

log = logging.getLogger(__name__)

# waiting-time limits: the stage, the call's setting, and who is told when the grace runs out
SLA = {
    State.COUNTY_REVIEW: ("sla_county_days", Role.PROVINCE_REVIEWER),
    State.PROVINCE_REVIEW: ("sla_province_days", Role.MINISTRY_STAFF),
    State.MINISTRY_REVIEW: ("sla_ministry_days", None),
}
# who may press whom: the holder's stage → the roles above it (a level that has not received the application
# yet presses it from its follow-up list, without opening it)
PRESSERS = {
    State.DRAFT: {Role.COUNTY_LEADER},
    State.COUNTY_REVIEW: {Role.PROVINCE_REVIEWER, Role.MINISTRY_STAFF},
    State.PROVINCE_REVIEW: {Role.MINISTRY_STAFF},
}
# the kinds planned for the stage an application is in, cancelled when it leaves it
STAGE_KINDS = (
    "county_deadline",
    "province_deadline",
    "sla",
    "escalation",
    "publicity_end",
    "expert_due",
    "closeout",
    "rectification_due",
    "rectification_passed",
)


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


EXPERT_REMIND_DAYS_BEFORE = (3, 0)  # experts who have not scored: three working days before, and on the day
RECTIFICATION_REMIND_DAYS_BEFORE = (30, 7, 1)  # working days before the rectification deadline
# stages whose due date comes from the call's deadline (or the application's own extension or grace)
CALL_DEADLINES = {
    State.DRAFT: "county_deadline",
    State.COUNTY_REVIEW: "county_deadline",
    State.PROVINCE_REVIEW: "province_deadline",
}
RETURNS = ("county_return", "province_return", "ministry_return")


def expert_review_due(app: Application) -> datetime:
    return app.due_at if app.due_at is not None else add_workdays(app.state_changed_at, app.call.expert_review_days)


def sla_deadline(app: Application) -> datetime | None:
    return app.time_limit_at if app.state in SLA else None


def set_stage_dates(app: Application, now: datetime, entered_by: str | None = None) -> None:
    """The due date and the level's time limit of the stage the application has just entered.

    A return, or an arrival after the level's deadline, gives the call's grace period (working days)
    instead of a deadline already past; at county review the draft's own date carries over.
    """
    call = app.call
    previous = app.due_at
    app.due_at, app.time_limit_at = None, None
    if app.state in CALL_DEADLINES:
        deadline = getattr(call, CALL_DEADLINES[app.state])
        if app.state == State.COUNTY_REVIEW and previous is not None:
            deadline = max(deadline, previous)  # submitted in its grace or extension
        if entered_by in RETURNS or now > deadline:
            deadline = max(deadline, add_workdays(now, call.return_grace_days))
        app.due_at = deadline
    if app.state in SLA:
        app.time_limit_at = add_workdays(now, getattr(call, SLA[app.state][0]))
        if app.state == State.MINISTRY_REVIEW:
            app.due_at = app.time_limit_at
    elif app.state == State.EXPERT_REVIEW:
        app.due_at = add_workdays(now, call.expert_review_days)
    elif app.state == State.PUBLICITY:
        app.due_at = app.publicity_ends_at
    elif app.state == State.RECTIFICATION:
        app.due_at = app.rectification_due
    if app.state in STAGE_DUE:  # a date another feature keeps (the inspection day)
        app.due_at = STAGE_DUE[app.state](app)


# stages whose due date a feature above keeps: state -> function of the application
STAGE_DUE: dict[State, Callable[[Application], datetime | None]] = {}


def stage_due(state: State) -> Callable[[Callable[[Application], datetime | None]], Callable]:
    def register(fn: Callable[[Application], datetime | None]) -> Callable:
        STAGE_DUE[state] = fn
        return fn

    return register


# on the table, not the class: the ORM's bulk UPDATE would also search the session for reminder objects to update
# in memory, on every transition, for several times the statement's own cost. A reminder object already loaded keeps
# its old cancelled_at in memory; what is written from it later (sent_at) leaves this one alone. Built once: only
# the values change.
_REMINDERS = Reminder.__table__
_CANCEL = (
    update(_REMINDERS)
    .where(
        _REMINDERS.c.application_id == bindparam("of_application"),
        _REMINDERS.c.kind.in_(bindparam("of_kinds", expanding=True)),
        pending(_REMINDERS.c),
    )
    .values(cancelled_at=bindparam("cancelled_now"))
)
_INSERT = insert(_REMINDERS)


def _cancel_params(app: Application, kinds: tuple[str, ...], now: datetime) -> dict[str, Any]:
    return {"of_application": app.id, "of_kinds": list(kinds), "cancelled_now": now}


def _new_rows_params(app: Application, rows: list[dict], now: datetime) -> dict[str, Any]:
    """The rows as arrays, one per column that differs between them (``_NEW_ROWS``)."""
    return {
        "new_application": app.id,
        "new_state": app.state,
        "new_created_at": now,
        **{f"new_{column}": [row[column] for row in rows] for column in _PER_ROW},
    }


def _cancel_pending(app: Application, kinds: tuple[str, ...]) -> None:
    db.session.execute(_CANCEL, _cancel_params(app, kinds, clock.now()))


def _rows(app: Application, tag: str, now: datetime, *, deadlines: bool = True, sla: bool = True) -> list[dict]:
    """The reminders of the application's present stage. Reminders before a due date go out on the working day
    before when they would fall on a rest day; prompts after something has ended wait for the next working day."""
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
                    "attempts": 0,
                }
            )

    if deadlines and app.state in CALL_DEADLINES and app.due_at is not None:
        kind = "province_deadline" if app.state == State.PROVINCE_REVIEW else "county_deadline"
        for days in call.reminder_offsets_days:
            add(kind, subtract_workdays(app.due_at, days), days)
        if app.state == State.DRAFT:
            add("closeout", app.due_at)  # still unsent then: flagged 逾期未提交
    if sla and app.state in SLA and app.time_limit_at is not None:
        limit_days = getattr(call, SLA[app.state][0])
        add("sla", app.time_limit_at, limit_days)
        if SLA[app.state][1] is not None:
            add("escalation", add_workdays(app.time_limit_at, call.escalation_grace_days), limit_days)
    if app.state == State.PUBLICITY and app.publicity_ends_at is not None:
        add("publicity_end", on_workday_after(app.publicity_ends_at))
    if app.state == State.EXPERT_REVIEW:
        due = expert_review_due(app)
        for days in EXPERT_REMIND_DAYS_BEFORE:
            add("expert_due", subtract_workdays(due, days), days)
    if app.state == State.RECTIFICATION and app.rectification_due is not None:
        for days in RECTIFICATION_REMIND_DAYS_BEFORE:
            add("rectification_due", subtract_workdays(app.rectification_due, days), days)
        add("rectification_passed", on_workday_after(app.rectification_due), 0)
    return rows


def _plan(
    app: Application, tag: str, *, deadlines: bool = True, sla: bool = True, cancel: tuple[str, ...] = ()
) -> None:
    """Plans the reminders of the application's present stage (``_rows``). ``cancel``: the kinds whose pending
    reminders are cancelled first."""
    now = clock.now()
    rows = _rows(app, tag, now, deadlines=deadlines, sla=sla)
    if cancel and rows and is_postgres():
        # one round trip: the cancelling UPDATE as a CTE of the INSERT (both see the rows as they were before the
        # statement, so the new rows are not cancelled). The rows go as arrays, unnested, so the statement is the
        # same whatever their number and SQLAlchemy compiles it once (a multi-row VALUES is compiled on every call,
        # which cost more than the round trip saved).
        db.session.execute(
            _CANCEL_AND_INSERT,
            {**_cancel_params(app, cancel, now), **_new_rows_params(app, rows, now)},
        )
        return
    if cancel:
        _cancel_pending(app, cancel)
    if rows:
        # on the table, in one executemany: the ORM's bulk INSERT would split the rows by which values are None
        # (a round trip each) and compile anew
        db.session.execute(_INSERT, rows)


_PER_ROW = ("kind", "offset_days", "due_at", "dedupe_key")
_NEW_ROWS = (
    func.unnest(
        bindparam("new_kind", type_=ARRAY(String)),
        bindparam("new_offset_days", type_=ARRAY(Integer)),
        bindparam("new_due_at", type_=ARRAY(UTCDateTime)),
        bindparam("new_dedupe_key", type_=ARRAY(String)),
    )
    .table_valued(*_PER_ROW)
    .render_derived()
)
_NEW_ROWS_SELECT = select(
    bindparam("new_application", type_=Integer),
    _NEW_ROWS.c.kind,
    bindparam("new_state", type_=String),
    _NEW_ROWS.c.offset_days,
    _NEW_ROWS.c.due_at,
    _NEW_ROWS.c.dedupe_key,
    literal({}, JSON),
    bindparam("new_created_at", type_=UTCDateTime),
    literal(0, Integer, literal_execute=True),
).select_from(_NEW_ROWS)
_NEW_ROWS_COLUMNS = [
    "application_id",
    "kind",
    "state",
    "offset_days",
    "due_at",
    "dedupe_key",
    "params",
    "created_at",
    "attempts",
]
_INSERT_NEW_ROWS = insert(_REMINDERS).from_select(_NEW_ROWS_COLUMNS, _NEW_ROWS_SELECT)
_CANCEL_AND_INSERT = _INSERT_NEW_ROWS.add_cte(_CANCEL.returning(_REMINDERS.c.id).cte("cancelled"))
# the same, each gated on the move, to go in its statement as CTEs (one level of WITH only: PostgreSQL refuses a
# data-modifying WITH nested in another)
_CANCEL_GATED = (
    update(_REMINDERS)
    .where(
        _REMINDERS.c.application_id == bindparam("of_application"),
        _REMINDERS.c.kind == any_(bindparam("of_kinds", type_=ARRAY(String))),  # one value, not one per kind
        pending(_REMINDERS.c),
        MOVE_GATE,
    )
    .values(cancelled_at=bindparam("cancelled_now"))
)
_INSERT_NEW_ROWS_GATED = insert(_REMINDERS).from_select(_NEW_ROWS_COLUMNS, _NEW_ROWS_SELECT.where(MOVE_GATE))


def plan_for_stage(app: Application, entered_by: str) -> None:
    """Cancels the reminders of the stage the application left and plans those of the one it is in."""
    _plan(app, entered_by, cancel=STAGE_KINDS)


def stage_reminders(app: Application, entered_by: str) -> list[Write]:
    """``plan_for_stage`` as writes to go with the move (``record_move``'s ``along``): on PostgreSQL, the
    cancelling UPDATE and the INSERT of the new rows (as arrays) in the move's own statement."""
    now = clock.now()
    rows = _rows(app, entered_by, now)
    cancel = _cancel_params(app, STAGE_KINDS, now)
    if not is_postgres():
        return [Write(_CANCEL, _CANCEL_GATED, cancel), *([Write(_INSERT, _INSERT, rows)] if rows else [])]
    writes = [Write(_CANCEL, _CANCEL_GATED, cancel)]
    if rows:
        writes.append(Write(_INSERT_NEW_ROWS, _INSERT_NEW_ROWS_GATED, _new_rows_params(app, rows, now)))
    return writes


def replan_after_extension(app: Application, tag: str) -> None:
    """A new due date for this application (延期, reopening): its reminders move with it."""
    _cancel_pending(
        app,
        ("county_deadline", "province_deadline", "closeout", "expert_due", "rectification_due", "rectification_passed"),
    )
    _plan(app, tag, sla=False)


def replan_deadlines(call_id: int, old: dict[str, datetime] | None = None) -> None:
    """After a call's deadlines or offsets change: its open applications get due dates and reminders on the
    new dates (an application's own later date — an extension, a grace period — stays)."""
    tag = f"c{int(clock.now().timestamp())}"
    apps = db.session.scalars(
        select(Application).where(Application.call_id == call_id, Application.state.in_(BEFORE_MINISTRY))
    )
    for app in apps:
        deadline = getattr(app.call, CALL_DEADLINES[app.state])
        followed_call = old is None or app.due_at is None or app.due_at == old.get(CALL_DEADLINES[app.state])
        app.due_at = deadline if followed_call else max(deadline, app.due_at)
        _cancel_pending(app, ("county_deadline", "province_deadline", "closeout"))
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
    if HOLDER_ROLE.get(reminder.state) != user.role:
        return False
    app = db.session.get(Application, reminder.application_id)
    held = holders.recipients(app) if app is not None else None
    return held is None or user.id in held


@reminder_kind("county_deadline", "province_deadline", "sla", "press", "publicity_end", reaches=reaches_holder)
def _to_holder(reminder: Reminder) -> int:
    app = db.session.get(Application, reminder.application_id)
    params = {}
    if reminder.kind in ("county_deadline", "province_deadline"):
        params["deadline"] = (app.due_at or app.call.county_deadline).isoformat()
    return deliver(reminder, _holder_or_unit, **params)


def _holder_or_unit(app: Application) -> list[int]:
    """The one handling the application (and their running deputies) once it is claimed, its unit until then."""
    held = holders.recipients(app)
    return held if held else _recipients(app, HOLDER_ROLE[app.state])


@reminder_kind("escalation", reaches=lambda user, r: SLA.get(r.state, (None, None))[1] == user.role)
def _to_level_above(reminder: Reminder) -> int:
    return deliver(reminder, lambda app: _recipients(app, SLA[app.state][1]))


def send_one(reminder_id: int) -> int:
    """Sends one due reminder (or cancels it if the work moved on). Returns notifications written."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.sent_at or reminder.cancelled_at or reminder.failed_at:
        return 0
    return HANDLERS[reminder.kind].send(reminder)


def _backoff(attempts: int) -> timedelta:
    """Exponential, bounded: the base after the first failure, doubling, never more than six hours."""
    base = current_app.config["REMINDER_RETRY_BASE_SECONDS"]
    return timedelta(seconds=min(base * 2 ** (attempts - 1), 6 * 3600))


def _record_failure(reminder_id: int, exc: Exception) -> bool:
    """Counts a failed attempt (in a transaction of its own): tried again after the backoff, or given up after
    ``REMINDER_MAX_ATTEMPTS``. True when it was given up."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.sent_at or reminder.cancelled_at or reminder.failed_at:
        return False
    now = clock.now()
    reminder.attempts += 1
    reminder.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    gave_up = reminder.attempts >= current_app.config["REMINDER_MAX_ATTEMPTS"]
    if gave_up:
        reminder.failed_at, reminder.next_attempt_at = now, None
    else:
        reminder.next_attempt_at = now + _backoff(reminder.attempts)
    return gave_up


def due_ids(limit: int) -> list[int]:
    """Due and pending, and not waiting out the backoff of an earlier failure: oldest first."""
    now = clock.now()
    return list(
        db.session.scalars(
            select(Reminder.id)
            .where(Reminder.due_at <= now, pending())
            .where(or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now))
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
    )


def scan_due(limit: int = 500) -> int | None:
    """One scan: every due reminder in its own transaction, so one that raises holds up none of the others; it
    is counted, tried again later and given up after a number of attempts. None when another scan holds the
    lock."""
    with exclusive("reminder-scan") as held:
        if not held:
            return None
        written = 0
        for reminder_id in due_ids(limit):
            try:
                count = send_one(reminder_id)
                db.session.commit()
            except Exception as exc:  # this reminder's sending failed: nothing of it is kept
                db.session.rollback()
                log.exception("reminder %s could not be sent", reminder_id)
                try:
                    if _record_failure(reminder_id, exc):
                        log.error("reminder %s given up after its attempts", reminder_id)
                    db.session.commit()
                except Exception:  # the database itself is failing: the next scan tries again
                    db.session.rollback()
                    log.exception("failure of reminder %s could not be recorded", reminder_id)
                continue
            written += count
        return written


def can_see_failures(user: User) -> bool:
    """Reminders that could not be sent name counties nationwide and carry errors: ministry staff only."""
    return user.role == Role.MINISTRY_STAFF


def failures(user: User, limit: int = 200) -> list[tuple[Reminder, Application]]:
    """The reminders whose sending failed — given up, or waiting to be tried again — newest failures first."""
    if not can_see_failures(user):
        raise Forbidden()
    rows = db.session.execute(
        select(Reminder, Application)
        .join(Application, Application.id == Reminder.application_id)
        .where(or_(Reminder.failed_at.is_not(None), and_(Reminder.attempts > 0, pending())))
        .order_by(Reminder.failed_at.is_(None), Reminder.failed_at.desc(), Reminder.next_attempt_at, Reminder.id)
        .limit(limit)
    ).all()
    return [(r, a) for r, a in rows]


def can_press(user: User, app: Application) -> bool:
    """催办 is for a level above the one holding the application."""
    return user.role in PRESSERS.get(app.state, set())


def press(user: User, application_id: int, comment: str | None = None) -> Reminder:
    """催办: a user above the holder sends an immediate reminder; once per application per day; audited."""
    limits.require_length("comment", comment, limits.PRESS_COMMENT)
    comment = (comment or "").strip() or None
    app = get_followed(user, application_id, for_update=True)
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
        # the note travels with the reminder: the holder reads it in the notification and the e-mail
        params={"by": user.display_name or user.username, "comment": comment},
        created_at=now,
    )
    db.session.add(reminder)
    db.session.flush()
    audit_trail.append(app, user, "press", from_state=app.state, at=now, comment=comment)
    # the holder's notifications are written now, in this request's transaction: they are outbox rows, and
    # their e-mail goes out with the dispatcher like every other (nothing is sent from the request)
    send_one(reminder.id)
    db.session.flush()
    return reminder


def upcoming_for(user: User, limit: int = 100) -> list[Reminder]:
    """The reminders still to come that will reach this user (their holder role, or their inspections)."""
    rows = db.session.scalars(
        select(Reminder)
        .join(Application, Application.id == Reminder.application_id)
        .where(pending(), Reminder.kind != "press")
        .where(or_(visible(user), followed_up(user), *(clause(user) for clause in EXTRA_VISIBLE)))
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit * 3)
    ).all()
    return [r for r in rows if HANDLERS[r.kind].reaches(user, r)][:limit]
