"""A notification row is also an outbox entry: ``dedupe_key`` makes dispatching it exactly-once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime

KINDS = ("action_required", "info")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("kind IN ('action_required', 'info')", name="kind_known"),
        Index("ix_notifications_recipient_unread", "recipient_id", "read_at"),
        # what a dispatcher scans: not yet sent by e-mail
        Index(
            "ix_notifications_undispatched",
            "created_at",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit_records.id"))
    kind: Mapped[str] = mapped_column(String(20))
    # what happened, kept as keys and parameters so the message renders in the reader's language
    event: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
