"""The official division list: every county-level division, its province and type, with provenance."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from kxflow.core.db import db
from kxflow.regions.loader import load_regions
from kxflow.regions.models import PROGRAMME_DIVISION_TYPES, County, DataSource, Province


def test_all_divisions_and_provinces(ctx):
    assert db.session.scalar(select(func.count(County.code))) == 2845
    assert db.session.scalar(select(func.count(Province.code))) == 31
    types = Counter(db.session.scalars(select(County.division_type)))
    assert types == {
        "市辖区": 976,
        "县": 1301,
        "县级市": 397,
        "自治县": 117,
        "旗": 49,
        "自治旗": 3,
        "林区": 1,
        "特区": 1,
    }
    programme = db.session.scalar(
        select(func.count(County.code)).where(County.division_type.in_(PROGRAMME_DIVISION_TYPES))
    )
    assert programme == 1869


def test_named_divisions(ctx):
    anji = db.session.get(County, "330523")
    assert (anji.name, anji.division_type, anji.province.name, anji.prefecture_name) == (
        "安吉县",
        "县",
        "浙江省",
        "湖州市",
    )
    xiantao = db.session.get(County, "429004")  # directly under the province, no prefecture
    assert (xiantao.name, xiantao.division_type, xiantao.province_code, xiantao.prefecture_code) == (
        "仙桃市",
        "县级市",
        "420000",
        None,
    )
    assert db.session.get(County, "429021").division_type == "林区"  # 神农架林区
    assert db.session.get(County, "140110").division_type == "市辖区"  # 太原市晋源区


def test_provenance_is_recorded(ctx):
    source = db.session.get(DataSource, "mca-divisions")
    assert source.authority == "Ministry of Civil Affairs of the People's Republic of China"
    assert source.data_as_of.isoformat() == "2025-12-31"
    assert len(source.sha256) == 64 and source.row_count == 2845


def test_loading_again_changes_nothing(ctx):
    result = load_regions()
    assert (result.provinces, result.counties, result.retired) == (31, 2845, 0)
    assert db.session.scalar(select(func.count(County.code)).where(County.valid_to.is_not(None))) == 0


def test_a_division_that_left_the_list_is_retired_not_deleted(ctx):
    db.session.add(
        County(
            code="330599",
            name="旧县",
            division_type="县",
            province_code="330000",
            valid_from=db.session.get(County, "330523").valid_from,
        )
    )
    db.session.flush()
    result = load_regions()
    assert result.retired == 1
    assert db.session.get(County, "330599").valid_to.isoformat() == "2025-12-31"
