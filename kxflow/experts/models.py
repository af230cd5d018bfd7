"""An expert's profile and declared conflicts, and their assignments to applications with the scores given.

The database keeps an expert to one assignment per application and each conflict naming exactly
one county or one province; a recused assignment stays on record (who stepped aside, and why).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime


class ExpertProfile(db.Model):
    __tablename__ = "expert_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(80), default="")
    organisation: Mapped[str] = mapped_column(String(120), default="", server_default="")  # 工作单位
    title: Mapped[str] = mapped_column(String(40), default="", server_default="")  # 职称
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="")  # 联系电话

    user: Mapped[User] = relationship()


class ExpertConflict(db.Model):
    """A county or a province the expert must not review (declared, or recorded on 回避)."""

    __tablename__ = "expert_conflicts"
    __table_args__ = (
        CheckConstraint("(county_code IS NULL) <> (province_code IS NULL)", name="county_or_province"),
        # NULLs never collide in a plain unique key, so one partial index per kind of conflict
        Index(
            "uq_expert_conflicts_county",
            "user_id",
            "county_code",
            unique=True,
            postgresql_where=text("county_code IS NOT NULL"),
            sqlite_where=text("county_code IS NOT NULL"),
        ),
        Index(
            "uq_expert_conflicts_province",
            "user_id",
            "province_code",
            unique=True,
            postgresql_where=text("province_code IS NOT NULL"),
            sqlite_where=text("province_code IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    county_code: Mapped[str | None] = mapped_column(ForeignKey("counties.code"))
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Assignment(db.Model):
    __tablename__ = "expert_assignments"
    __table_args__ = (
        UniqueConstraint("application_id", "expert_id", name="uq_expert_assignments_once"),
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("recused_at IS NULL OR recusal_reason IS NOT NULL", name="recusal_has_reason"),
        Index("ix_expert_assignments_active", "expert_id", postgresql_where=text("recused_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    added_late: Mapped[bool] = mapped_column(default=False)  # 加签: added once the review had begun
    recused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recusal_reason: Mapped[str | None] = mapped_column(String(500))
    # item key -> points (0 to the item's weight); veto items the evidence fails; one comment
    scores: Mapped[dict | None] = mapped_column(JSON)
    veto_failed: Mapped[list] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    expert: Mapped[User] = relationship(foreign_keys=[expert_id], lazy="joined")

    @property
    def total(self) -> float | None:
        return round(sum(self.scores.values()), 2) if self.scores is not None else None
