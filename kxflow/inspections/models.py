"""An inspection of one application (a site inspection or a re-check) and the people on its team.

Nobody can be on two inspections on one day: each member row carries the date, and the database
keeps (user, date) unique — so a team never has two counties on one day, whoever plans it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime


class Inspection(db.Model):
    __tablename__ = "inspections"
    __table_args__ = (CheckConstraint("kind IN ('site', 'recheck')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    scheduled_on: Mapped[date] = mapped_column(Date, index=True)
    place: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    report_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    members: Mapped[list[InspectionMember]] = relationship(
        back_populates="inspection", cascade="all, delete-orphan", order_by="InspectionMember.user_id"
    )


class InspectionMember(db.Model):
    __tablename__ = "inspection_members"
    __table_args__ = (UniqueConstraint("user_id", "scheduled_on", name="uq_inspection_members_one_a_day"),)

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scheduled_on: Mapped[date] = mapped_column(Date)

    inspection: Mapped[Inspection] = relationship(back_populates="members")
    user: Mapped[User] = relationship()
