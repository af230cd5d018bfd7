"""A written objection lodged during an application's public notice, and how the ministry resolved it.

From a unit (its name and a scan of the stamped letter) or from a named person (name and
contact): the database refuses a row that is neither. Only ministry staff ever read these rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime


class Objection(db.Model):
    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint("kind IN ('unit', 'person')", name="kind_known"),
        CheckConstraint(
            "(kind = 'unit' AND unit_name IS NOT NULL AND scan_stored_name IS NOT NULL)"
            " OR (kind = 'person' AND person_name IS NOT NULL AND contact IS NOT NULL)",
            name="unit_stamped_or_person_named",
        ),
        CheckConstraint("status IN ('open', 'upheld', 'dismissed')", name="status_known"),
        CheckConstraint(
            "(status = 'open') = (resolved_at IS NULL) AND (status = 'open' OR resolution IS NOT NULL)",
            name="resolved_with_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    unit_name: Mapped[str | None] = mapped_column(String(200))
    person_name: Mapped[str | None] = mapped_column(String(80))
    contact: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    scan_original_name: Mapped[str | None] = mapped_column(String(255))
    scan_stored_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    scan_content_type: Mapped[str | None] = mapped_column(String(100))
    scan_size_bytes: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
