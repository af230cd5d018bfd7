"""A long export: who asked for what, how far the worker has got, and the file it left behind.

The worker writes progress in short transactions of its own, so the page polling it sees the bar move; the file
is stored under a generated name in the upload folder and handed only to the user who asked for it. Each report
is a heartbeat: an export whose worker died stops beating and is shown as stalled (``exports.stalled``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime

STATUSES = ("queued", "running", "done", "failed")


class Export(db.Model):
    __tablename__ = "exports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_percent"),
        CheckConstraint("status <> 'done' OR (stored_name IS NOT NULL AND progress = 100)", name="done_has_file"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    # the file of a done export; while it runs, the file its worker writes, which is that worker's claim on it
    stored_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the worker's last sign of life (each progress report): a running export silent too long has lost its worker
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
