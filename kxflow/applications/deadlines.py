"""Due dates from above: an extension (延期) for one application, reopening a county or a province after the
call's close-out, and the close-out itself (逾期未提交: a flag on a draft not sent by its due date).

An extension is granted by the level above the one holding the application, with a reason and a
new date; it goes on the application's timeline and its reminders move with it.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.roles import COUNTY_ROLES, Role
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Forbidden, Invalid, NotFound
from kxflow.notifications.operations import in_scope, notify_users
from kxflow.reminders.models import Reminder
from kxflow.reminders.operations import reminder_kind, replan_after_extension
from kxflow.workflow import audit as audit_trail
from kxflow.workflow.models import Application
from kxflow.workflow.scope import get_followed
from kxflow.workflow.states import State
from kxflow.workflow.triggers import HOLDER_ROLE

_MINISTRY = frozenset({Role.MINISTRY_STAFF})
# who may extend an application's due date at each stage: the level above its holder
EXTENDERS: dict[State, frozenset[Role]] = {
    State.DRAFT: frozenset({Role.PROVINCE_REVIEWER, Role.MINISTRY_STAFF}),
    State.COUNTY_REVIEW: frozenset({Role.PROVINCE_REVIEWER, Role.MINISTRY_STAFF}),
    State.PROVINCE_REVIEW: _MINISTRY,
    State.EXPERT_REVIEW: _MINISTRY,
    State.RECTIFICATION: _MINISTRY,
}
MAX_EXTENSION_DAYS = 366


def can_extend(user: User, app: Application) -> bool:
    return user.role in EXTENDERS.get(app.state, frozenset())


def _holders(app: Application) -> list[int]:
    role = HOLDER_ROLE.get(app.state)
    roles = COUNTY_ROLES if app.state in (State.DRAFT, State.RECTIFICATION) else ((role,) if role else ())
    ids: list[int] = []
    for r in roles:
        ids += db.session.scalars(select(User.id).where(in_scope(r, app), User.active.is_(True))).all()
    return ids


def _set_due(user: User, app: Application, new_due: datetime, reason: str, event: str) -> Application:
    now = clock.now()
    old = app.due_at
    app.due_at = new_due
    if app.state == State.RECTIFICATION:
        app.rectification_due = new_due
    app.overdue_since = None
    app.updated_at = now
    record = audit_trail.append(
        app,
        user,
        event,
        from_state=app.state,
        at=now,
        comment=reason,
        snapshot={"due_from": old.isoformat() if old else None, "due_to": new_due.isoformat()},
    )
    db.session.flush()
    replan_after_extension(app, f"x{record.id}")
    notify_users(
        [uid for uid in _holders(app) if uid != user.id],
        application_id=app.id,
        event="extended",
        params={"county": app.county.name, "due": new_due.isoformat(), "reason": reason},
        dedupe_prefix=f"extended:{record.id}",
        kind="info",
    )
    return app


def _check(new_due: datetime | None, reason: str | None, current: datetime | None) -> tuple[datetime, str]:
    now = clock.now()
    fields: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if not reason:
        fields["reason"] = [gettext("This field is required.")]
    elif len(reason) > 500:
        fields["reason"] = [gettext("At most %(max)s characters.", max=500)]
    if new_due is None:
        fields["due_at"] = [gettext("This field is required.")]
    elif new_due <= now or (current is not None and new_due <= current):
        fields["due_at"] = [gettext("The new date must be later than today and than the present due date.")]
    elif (new_due - now).days > MAX_EXTENSION_DAYS:
        fields["due_at"] = [gettext("At most a year ahead.")]
    if fields:
        raise Invalid(fields=fields)
    return new_due, reason


def extend(user: User, application_id: int, new_due: datetime | None, reason: str | None) -> Application:
    """延期: a new due date for this application's present stage, granted by the level above, with a reason."""
    app = get_followed(user, application_id, for_update=True)
    if not can_extend(user, app):
        raise Forbidden(gettext("Only the level above the holder can extend this application's due date."))
    new_due, reason = _check(new_due, reason, app.due_at)
    return _set_due(user, app, new_due, reason, "extend")


def reopen(
    user: User,
    call_id: int,
    *,
    new_due: datetime | None,
    reason: str | None,
    county: str | None = None,
    province: str | None = None,
) -> list[Application]:
    """The ministry reopens the drafts flagged 逾期未提交 of one county or one province with a new date."""
    if user.role != Role.MINISTRY_STAFF:
        raise Forbidden()
    if db.session.get(Call, call_id) is None:
        raise NotFound()
    if bool(county) == bool(province):
        raise Invalid(fields={"county": [gettext("Name one county or one province.")]})
    new_due, reason = _check(new_due, reason, None)
    stmt = select(Application.id).where(
        Application.call_id == call_id, Application.state == State.DRAFT, Application.overdue_since.is_not(None)
    )
    stmt = (
        stmt.where(Application.county_code == county) if county else stmt.where(Application.province_code == province)
    )
    ids = db.session.scalars(stmt.order_by(Application.id)).all()
    if not ids:
        raise Invalid(fields={"county" if county else "province": [gettext("No draft there is flagged 逾期未提交.")]})
    return [_set_due(user, get_followed(user, i, for_update=True), new_due, reason, "reopen") for i in ids]


def flagged_count(call_id: int) -> int:
    return len(
        db.session.scalars(
            select(Application.id).where(Application.call_id == call_id, Application.overdue_since.is_not(None))
        ).all()
    )


def _reaches_county(user: User, reminder: Reminder) -> bool:
    return user.role in COUNTY_ROLES


@reminder_kind("closeout", reaches=_reaches_county)
def close_out(reminder: Reminder) -> int:
    """At its due date a draft still unsent is flagged 逾期未提交 and its county told (not a new stage)."""
    app = db.session.get(Application, reminder.application_id)
    now = clock.now()
    if app.state != State.DRAFT or app.due_at is None or app.due_at > now or app.overdue_since is not None:
        reminder.cancelled_at = now
        return 0
    app.overdue_since = now
    recipients = _holders(app)
    notify_users(
        recipients,
        application_id=app.id,
        event="closeout",
        params={"county": app.county.name, "deadline": app.due_at.isoformat()},
        dedupe_prefix=f"reminder:{reminder.id}",
    )
    reminder.sent_at = now
    return len(recipients)
