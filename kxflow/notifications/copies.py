"""抄送: copies of a step (a trigger fired, a 催办) to people who may read the application but do not act on it.

A copy is read-only: its recipient gets a notification and finds it under 抄送我的 until they open the
application, which marks it read. Only someone who may read the application can be copied (the county
leader, a colleague, a ministry division lead); anyone else is refused with the field named.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import ForeignKey, Index, UniqueConstraint, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.errors import Invalid, NotFound
from kxflow.core.types import UTCDateTime
from kxflow.notifications.operations import notify_users
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.scope import visible

MAX_COPIES = 20


class CarbonCopy(db.Model):
    __tablename__ = "carbon_copies"
    __table_args__ = (
        UniqueConstraint("audit_id", "recipient_id", name="uq_carbon_copies_once"),
        Index("ix_carbon_copies_recipient_read", "recipient_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_records.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    application: Mapped[Application] = relationship(lazy="joined")
    audit: Mapped[AuditRecord] = relationship(lazy="joined")
    sender: Mapped[User] = relationship(foreign_keys=[sender_id], lazy="joined")


def can_read(user_id: int, application_id: int) -> bool:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return False
    stmt = select(Application.id).where(Application.id == application_id, visible(user))
    return db.session.scalar(stmt) is not None


def check_recipients(application_id: int, recipient_ids: list[int] | None, sender: User) -> list[int]:
    """The distinct recipients, each one who may read the application; 422 naming ``cc`` otherwise."""
    ids = [i for i in dict.fromkeys(recipient_ids or []) if i != sender.id]
    if len(ids) > MAX_COPIES:
        raise Invalid(fields={"cc": [gettext("At most %(n)s people can be copied.", n=MAX_COPIES)]})
    refused = [i for i in ids if not can_read(i, application_id)]
    if refused:
        raise Invalid(fields={"cc": [gettext("Only people who may read this application can be copied.")]})
    return ids


def copy_to(sender: User, app: Application, audit: AuditRecord, recipient_ids: list[int]) -> list[CarbonCopy]:
    """Copies one step of the timeline to ``recipient_ids`` (checked with ``check_recipients`` first)."""
    now = clock.now()
    rows = [
        CarbonCopy(application_id=app.id, audit_id=audit.id, sender_id=sender.id, recipient_id=uid, created_at=now)
        for uid in recipient_ids
    ]
    db.session.add_all(rows)
    notify_users(
        recipient_ids,
        application_id=app.id,
        event="cc",
        params={
            "county": app.county.name,
            "trigger": audit.trigger,
            "state": audit.to_state,
            "by": sender.display_name or sender.username,
            "comment": audit.comment,
        },
        dedupe_prefix=f"cc:{audit.id}",
        kind="info",
    )
    db.session.flush()
    return rows


def copied_to(user: User, *, unread_only: bool = False, limit: int = 100) -> list[CarbonCopy]:
    """抄送我的: the newest first."""
    stmt = select(CarbonCopy).where(CarbonCopy.recipient_id == user.id)
    if unread_only:
        stmt = stmt.where(CarbonCopy.read_at.is_(None))
    return list(db.session.scalars(stmt.order_by(CarbonCopy.id.desc()).limit(limit)))


def unread_copies(user: User) -> int:
    return db.session.scalar(
        select(func.count(CarbonCopy.id)).where(CarbonCopy.recipient_id == user.id, CarbonCopy.read_at.is_(None))
    )


def mark_opened(user: User, application_id: int) -> int:
    """Opening the application marks the copies of it sent to this user read."""
    result = db.session.execute(
        update(CarbonCopy)
        .where(
            CarbonCopy.recipient_id == user.id,
            CarbonCopy.application_id == application_id,
            CarbonCopy.read_at.is_(None),
        )
        .values(read_at=clock.now())
    )
    return result.rowcount or 0


def open_copy(user: User, copy_id: int) -> CarbonCopy:
    """The recipient opens a copy: it (and their other copies of the same application) are read from now on."""
    row = db.session.get(CarbonCopy, copy_id)
    if row is None or row.recipient_id != user.id:
        raise NotFound()
    mark_opened(user, row.application_id)
    return row
