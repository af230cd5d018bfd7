"""Provinces and county-level divisions (Ministry of Civil Affairs codes), dated so changes can be recorded."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.core.db import db

# The county-level division types of the official list; the programme itself is for the
# non-district ones (1,869), districts can be admitted per call.
DIVISION_TYPES = ("县", "县级市", "自治县", "旗", "自治旗", "林区", "特区", "市辖区")
PROGRAMME_DIVISION_TYPES = tuple(t for t in DIVISION_TYPES if t != "市辖区")


class Province(db.Model):
    __tablename__ = "provinces"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class County(db.Model):
    __tablename__ = "counties"
    __table_args__ = (
        CheckConstraint(
            "division_type IN (" + ", ".join(f"'{t}'" for t in DIVISION_TYPES) + ")",
            name="division_type_known",
        ),
        # target of the applications' (county, province) key, which keeps their province right
        UniqueConstraint("code", "province_code", name="uq_counties_code_province"),
    )

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), index=True)
    division_type: Mapped[str] = mapped_column(String(8))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(6))
    prefecture_name: Mapped[str | None] = mapped_column(String(60))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    province: Mapped[Province] = relationship()


class DataSource(db.Model):
    """Where a reference data set came from: authority, table, as-of date and checksum."""

    __tablename__ = "data_sources"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    authority: Mapped[str] = mapped_column(String(200))
    source_table: Mapped[str] = mapped_column(String(80))
    data_as_of: Mapped[date] = mapped_column(Date)
    sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int]
