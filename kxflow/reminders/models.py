"""A reminder is a row with a due time; the scan sends it once (``sent_at``) unless the work moved on.

A reminder whose sending raises is tried again later (``next_attempt_at``, backing off) and given up
(``failed_at``) after ``REMINDER_MAX_ATTEMPTS``; ministry staff see those on the failed-reminders page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, and_, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime

REMINDER_KINDS = (
    "county_deadline",
    "province_deadline",
    "sla",
    "escalation",
    "press",
    "inspection_soon",
    "publicity_end",
    "expert_due",
    "inspection_overdue",
    "closeout",
    "rectification_due",
    "rectification_passed",
)


class Reminder(db.Model):
    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in REMINDER_KINDS) + ")",
            name="kind_known",
        ),
        # at most one end: sent, cancelled (the work moved on) or given up after its attempts
        CheckConstraint(
            "(sent_at IS NULL OR cancelled_at IS NULL)"
            " AND (failed_at IS NULL OR (sent_at IS NULL AND cancelled_at IS NULL))",
            name="sent_cancelled_or_failed",
        ),
        # what a transition cancels: the pending reminders of one application
        Index(
            "ix_reminders_pending_by_application",
            "application_id",
            postgresql_where=text("sent_at IS NULL AND cancelled_at IS NULL"),
            sqlite_where=text("sent_at IS NULL AND cancelled_at IS NULL"),
        ),
        # the reminders of an inspection (most have none: an index of every row would be written for nothing)
        Index(
            "ix_reminders_inspection_id",
            "inspection_id",
            postgresql_where=text("inspection_id IS NOT NULL"),
            sqlite_where=text("inspection_id IS NOT NULL"),
        ),
        Index(
            "ix_reminders_due",
            "due_at",
            postgresql_where=text("sent_at IS NULL AND cancelled_at IS NULL"),
            sqlite_where=text("sent_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))  # ix_reminders_inspection_id
    kind: Mapped[str] = mapped_column(String(20))
    # the stage the application must still be at when the reminder falls due
    state: Mapped[str] = mapped_column(String(20))
    offset_days: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # sending raised: how often, when to try again (backoff), the last error, and when the scan gave up
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


def pending(of: Any = Reminder) -> ColumnElement[bool]:
    """Neither sent, nor cancelled, nor given up: still to go out. ``of``: the mapped class, or the table's columns
    (``Reminder.__table__.c``) for a statement that leaves the ORM out."""
    return and_(of.sent_at.is_(None), of.cancelled_at.is_(None), of.failed_at.is_(None))
