"""Who is told what when an application moves, and reading one's own notifications."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.roles import Role
from kxflow.applications.models import Application, AuditRecord
from kxflow.applications.workflow import HOLDER_ROLE, state_label, trigger_label
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import NotFound
from kxflow.notifications.models import Notification

# Outcomes the county is told about even though it does not act next.
_COUNTY_INFO_STATES = {"province_review", "ministry_review", "expert_review", "rejected", "withdrawn"}


def _users_with_role(role: Role, app: Application) -> list[User]:
    stmt = select(User).where(User.role == role, User.active.is_(True))
    if role in (Role.COUNTY_STAFF, Role.COUNTY_LEADER):
        stmt = stmt.where(User.county_code == app.county_code)
    elif role == Role.PROVINCE_REVIEWER:
        stmt = stmt.where(User.province_code == app.province_code)
    return list(db.session.scalars(stmt.order_by(User.id)))


def notify_transition(app: Application, audit: AuditRecord) -> list[Notification]:
    """Writes the notification rows of one transition (same transaction, no commit)."""
    recipients: dict[int, str] = {}
    holder = HOLDER_ROLE.get(audit.to_state)
    if holder is not None:
        for user in _users_with_role(holder, app):
            recipients[user.id] = "action_required"
    if audit.to_state in _COUNTY_INFO_STATES:
        for user in _users_with_role(Role.COUNTY_STAFF, app):
            recipients.setdefault(user.id, "info")
    recipients.pop(audit.actor_id, None)
    params = {
        "county": app.county.name,
        "trigger": audit.trigger,
        "from_state": audit.from_state,
        "to_state": audit.to_state,
        "comment": audit.comment,
    }
    rows = [
        Notification(
            recipient_id=user_id,
            application_id=app.id,
            audit_id=audit.id,
            kind=kind,
            event="transition",
            params=params,
            email=kind == "action_required",
            dedupe_key=f"audit:{audit.id}:user:{user_id}",
            created_at=audit.at,
        )
        for user_id, kind in recipients.items()
    ]
    db.session.add_all(rows)
    return rows


def render_message(n: Notification, locale: str) -> str:
    p = n.params
    if n.event == "transition":
        values = {
            "county": p["county"],
            "action": trigger_label(p["trigger"], locale),
            "state": state_label(p["to_state"], locale),
        }
        if n.kind == "action_required":
            return gettext("%(county)s: application %(action)s, now at %(state)s — your action is needed.", **values)
        return gettext("%(county)s: application %(action)s, now at %(state)s.", **values)
    return n.event


def mine(
    user: User, *, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> tuple[list[Notification], int, int]:
    from sqlalchemy import func

    base = select(Notification).where(Notification.recipient_id == user.id)
    if unread_only:
        base = base.where(Notification.read_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    unread = db.session.scalar(
        select(func.count(Notification.id)).where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
    )
    rows = db.session.scalars(base.order_by(Notification.id.desc()).limit(limit).offset(offset))
    return list(rows), total, unread


def mark_read(user: User, notification_id: int) -> Notification:
    row = db.session.get(Notification, notification_id)
    if row is None or row.recipient_id != user.id:
        raise NotFound()
    if row.read_at is None:
        row.read_at = clock.now()
    return row
