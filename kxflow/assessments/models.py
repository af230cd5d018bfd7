"""One result per county per assessment round (held every two years); an import replaces its round."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime

RESULTS = ("先进", "通过", "未通过")
PASSING = ("先进", "通过")
PASS_RATE_TARGET = 0.70  # the 12th Five-Year Plan's target for the national pass rate


class AssessmentImport(db.Model):
    __tablename__ = "assessment_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_year: Mapped[int] = mapped_column(Integer, index=True)
    filename: Mapped[str] = mapped_column(String(255))
    row_count: Mapped[int] = mapped_column(Integer)
    imported_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class AssessmentResult(db.Model):
    __tablename__ = "assessment_results"
    __table_args__ = (
        UniqueConstraint("round_year", "county_code", name="uq_assessment_results_round_county"),
        CheckConstraint("result IN ('先进', '通过', '未通过')", name="result_known"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_year: Mapped[int] = mapped_column(Integer)
    county_code: Mapped[str] = mapped_column(ForeignKey("counties.code"), index=True)
    result: Mapped[str] = mapped_column(String(4))
    score: Mapped[float | None] = mapped_column(Float)
    import_id: Mapped[int] = mapped_column(ForeignKey("assessment_imports.id"))
