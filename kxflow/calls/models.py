"""A call and its per-province quota overrides; the database keeps the dates in order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime


class Call(db.Model):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint("opens_at < county_deadline", name="opens_before_county_deadline"),
        CheckConstraint("county_deadline <= province_deadline", name="county_before_province_deadline"),
        CheckConstraint("province_quota >= 0", name="quota_not_negative"),
        CheckConstraint("min_experts >= 1", name="min_experts_positive"),
        CheckConstraint("score_threshold >= 0 AND score_threshold <= 100", name="threshold_in_range"),
        CheckConstraint(
            "sla_county_days >= 1 AND sla_province_days >= 1 AND sla_ministry_days >= 1 AND escalation_grace_days >= 0",
            name="sla_positive",
        ),
        CheckConstraint(
            "publicity_days >= 1 AND rectification_days >= 1 AND expert_review_days >= 1", name="periods_positive"
        ),
        CheckConstraint("score_gap > 0", name="score_gap_positive"),
        CheckConstraint("return_grace_days >= 1 AND revoked_wait_years >= 0", name="rules_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    county_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    province_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    province_quota: Mapped[int] = mapped_column(Integer)
    min_experts: Mapped[int] = mapped_column(Integer, default=3)
    score_threshold: Mapped[float] = mapped_column(Float, default=60.0)
    division_types: Mapped[list[str]] = mapped_column(JSON)
    # how long (working days) an application may wait at each level before its holder is reminded,
    # and how much longer before the level above is told
    sla_county_days: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    sla_province_days: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    sla_ministry_days: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    escalation_grace_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # only counties that passed their latest national assessment may submit (priority support)
    requires_assessment_pass: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reminder_offsets_days: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: [7, 3, 1], server_default=text("'[7, 3, 1]'")
    )
    # the public-notice window, the time a failed re-check gives to rectify, and how far apart
    # two experts' totals may lie before the panel is flagged as conflicting
    publicity_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    rectification_days: Mapped[int] = mapped_column(Integer, default=365, server_default="365")
    score_gap: Mapped[float] = mapped_column(Float, default=20.0, server_default="20")
    expert_review_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")  # scores due
    # working days a county (or province) gets to resubmit an application returned after its deadline
    return_grace_days: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # years a county whose title was revoked waits before it may apply again
    revoked_wait_years: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # closed by the ministry once its last application is decided: its figures no longer change
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    indicator_set_version: Mapped[str] = mapped_column(ForeignKey("indicator_sets.version"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    quota_overrides: Mapped[list[QuotaOverride]] = relationship(
        cascade="all, delete-orphan", order_by="QuotaOverride.province_code"
    )

    def quota_for(self, province_code: str) -> int:
        for override in self.quota_overrides:
            if override.province_code == province_code:
                return override.quota
        return self.province_quota

    def is_open(self, at: datetime) -> bool:
        """Open for new applications (an application's own extension is the application's affair)."""
        return self.opens_at <= at <= self.county_deadline


class QuotaOverride(db.Model):
    __tablename__ = "call_quota_overrides"
    __table_args__ = (CheckConstraint("quota >= 0", name="quota_not_negative"),)

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer)


class CallChange(db.Model):
    """Who opened, changed or closed a call (quotas included), when, and each field's old and new value.

    Append-only: the database refuses to update or delete a row (a trigger on PostgreSQL and SQLite).
    """

    __tablename__ = "call_changes"
    __table_args__ = (CheckConstraint("action IN ('create', 'update', 'close')", name="action_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # field -> [old, new], values as JSON (dates as ISO text); quota_overrides as {province: quota}
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
