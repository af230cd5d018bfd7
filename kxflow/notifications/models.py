"""A notification row is also an outbox entry: ``dedupe_key`` makes dispatching it exactly-once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime

KINDS = ("action_required", "info")
EMAIL_STATUSES = ("none", "pending", "sent", "gave_up", "cancelled")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_sql_list(KINDS)})", name="kind_known"),
        CheckConstraint(f"email_status IN ({_sql_list(EMAIL_STATUSES)})", name="email_status_known"),
        CheckConstraint("(email_status = 'sent') = (dispatched_at IS NOT NULL)", name="sent_has_time"),
        Index("ix_notifications_recipient_unread", "recipient_id", "read_at"),
        # what the dispatcher scans: e-mails still to send
        Index(
            "ix_notifications_email_pending",
            "next_attempt_at",
            postgresql_where=text("email_status = 'pending'"),
            sqlite_where=text("email_status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # first in ix_notifications_recipient_unread
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit_records.id"))
    kind: Mapped[str] = mapped_column(String(20))
    # what happened, kept as keys and parameters so the message renders in the reader's language
    event: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    # delivery by e-mail: the outbox state, advanced only by the dispatcher
    email_status: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EmailDelivery(db.Model):
    """One attempt to e-mail one notification: the delivery log ministry staff read."""

    __tablename__ = "email_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "attempt", name="uq_email_deliveries_attempt"),
        CheckConstraint("status IN ('sent', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str | None] = mapped_column(String(254))
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
