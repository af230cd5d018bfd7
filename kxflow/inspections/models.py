"""An inspection of one application (a site inspection or a re-check) and the people on its team.

Nobody can be on two inspections on one day: each member row carries the date, and the database
keeps (user, date) unique — so a team never has two counties on one day, whoever plans it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime


class Inspection(db.Model):
    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint("kind IN ('site', 'recheck')", name="kind_known"),
        CheckConstraint("cancelled_at IS NULL OR cancel_reason IS NOT NULL", name="cancel_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    scheduled_on: Mapped[date] = mapped_column(Date, index=True)
    place: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    report_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # moved to another date (a new inspection replaces it) or called off: its reminders stop, its team is free
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))

    members: Mapped[list[InspectionMember]] = relationship(
        back_populates="inspection", cascade="all, delete-orphan", order_by="InspectionMember.user_id"
    )
    report: Mapped[InspectionReport | None] = relationship(cascade="all, delete-orphan", lazy="joined")
    files: Mapped[list[InspectionFile]] = relationship(cascade="all, delete-orphan", order_by="InspectionFile.id")


class InspectionMember(db.Model):
    __tablename__ = "inspection_members"
    __table_args__ = (UniqueConstraint("user_id", "scheduled_on", name="uq_inspection_members_one_a_day"),)

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scheduled_on: Mapped[date] = mapped_column(Date)

    inspection: Mapped[Inspection] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class InspectionReport(db.Model):
    """What the team found: a site inspection recommends pass or fail, a re-check grades the county."""

    __tablename__ = "inspection_reports"
    __table_args__ = (
        CheckConstraint("recommendation IN ('pass', 'fail')", name="recommendation_known"),
        CheckConstraint("result IN ('excellent', 'satisfactory', 'unsatisfactory')", name="result_known"),
        CheckConstraint("(recommendation IS NULL) <> (result IS NULL)", name="recommendation_or_result"),
    )

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    findings: Mapped[str] = mapped_column(Text)
    recommendation: Mapped[str | None] = mapped_column(String(10))
    result: Mapped[str | None] = mapped_column(String(20))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class InspectionFile(db.Model):
    """A file attached to an inspection report (minutes, photos, signed forms)."""

    __tablename__ = "inspection_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class RectificationReport(db.Model):
    """整改报告: what a county in rectification reports it has done, with its files, for the re-check."""

    __tablename__ = "rectification_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    submitted_by: Mapped[User] = relationship()
    files: Mapped[list[RectificationFile]] = relationship(cascade="all, delete-orphan", order_by="RectificationFile.id")


class RectificationFile(db.Model):
    __tablename__ = "rectification_files"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("rectification_reports.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
