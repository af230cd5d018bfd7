"""Demo data for ``make run``: an open call and one user per role in two provinces."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user
from kxflow.applications.operations import create_application, update_indicators
from kxflow.calls.models import Call
from kxflow.calls.operations import create_call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.indicators.models import load_packaged_sets

DEMO_PASSWORD = "kxflow-demo-2026"

# username, role, county, province, display name
DEMO_USERS = (
    ("ministry", "ministry_staff", None, None, "科技部 张司长"),
    ("admin", "admin", None, None, "系统管理员"),
    ("zj_province", "province_reviewer", None, "330000", "浙江省科技厅 李处长"),
    ("zj_county", "county_staff", "330523", None, "安吉县科技局 王科员"),
    ("zj_leader", "county_leader", "330523", None, "安吉县人民政府 陈县长"),
    ("zj_county2", "county_staff", "330521", None, "德清县科技局 赵科员"),
    ("sc_province", "province_reviewer", None, "510000", "四川省科技厅 刘处长"),
    ("sc_county", "county_staff", "510129", None, "大邑县科技局 周科员"),
    ("sc_leader", "county_leader", "510129", None, "大邑县人民政府 吴县长"),
    ("expert_zj", "expert", None, "330000", "专家 孙教授（浙江）"),
    ("expert_sc", "expert", None, "510000", "专家 郑研究员（四川）"),
)

DEMO_INDICATORS = {
    "fiscal_st_spending_y1": 4200.0,
    "fiscal_st_spending_y2": 5100.0,
    "fiscal_st_spending_y3": 6300.0,
    "general_budget_expenditure_y1": 260000.0,
    "general_budget_expenditure_y2": 275000.0,
    "general_budget_expenditure_y3": 290000.0,
    "leadership_group_top_leader": True,
    "latest_assessment_result": "先进",
    "latest_assessment_year": 2025,
    "productivity_promotion_centres": 1,
    "incubators": 3,
    "agri_st_parks": 2,
    "engineering_research_centres": 4,
    "st_commissioners": 86,
}


def seed_demo() -> list[tuple[str, str, str]]:
    """Idempotent. Returns (username, role, display name) of every demo user."""
    load_packaged_sets()
    users = {}
    for username, role, county, province, name in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = create_user(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                county_code=county,
                province_code=province,
                email=f"{username}@demo.kxflow.local",
                display_name=name,
            )
        users[username] = user
    call = db.session.scalar(select(Call).order_by(Call.id).limit(1))
    if call is None:
        now = clock.now()
        call = create_call(
            users["ministry"],
            {
                "title": f"{now.year}年度国家科技进步示范县（市）申报",
                "year": now.year,
                "opens_at": now - timedelta(days=7),
                "county_deadline": now + timedelta(days=30),
                "province_deadline": now + timedelta(days=45),
                "province_quota": 3,
                "quota_overrides": {"330000": 5},
                "min_experts": 3,
                "score_threshold": 70.0,
            },
        )
        app = create_application(users["zj_county"], call.id)
        update_indicators(users["zj_county"], app.id, DEMO_INDICATORS)
    db.session.flush()
    return [(u.username, u.role, u.display_name) for u in users.values()]
