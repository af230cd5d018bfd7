"""The holiday schedules kxflow keeps itself: one row per announced year, one per day that breaks the week's rule.

The packaged schedule (``chinesecalendar``) covers the years up to its horizon; a year the State
Council announces later is entered by ministry staff and then takes precedence for that year.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime

DAY_KINDS = ("rest", "work")  # a public holiday on a weekday; a weekend day worked instead (调休)


class HolidayYear(db.Model):
    __tablename__ = "holiday_years"
    __table_args__ = (CheckConstraint("year >= 2000 AND year <= 2100", name="year_in_range"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), default="")  # e.g. 国办发明电〔2026〕x号
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    days: Mapped[list[HolidayDay]] = relationship(cascade="all, delete-orphan", order_by="HolidayDay.day")


class HolidayDay(db.Model):
    __tablename__ = "holiday_days"
    __table_args__ = (CheckConstraint("kind IN ('rest', 'work')", name="kind_known"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("holiday_years.year", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(40), default="")
