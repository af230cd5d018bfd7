"""Demo data for ``make run``: an open call and one user per role in two provinces."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.accounts.operations import create_user
from kxflow.applications.models import Application
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
    ("zj_leader2", "county_leader", "330521", None, "德清县人民政府 钱县长"),
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
        _applications_at_every_stage(call, users)
    db.session.flush()
    return [(u.username, u.role, u.display_name) for u in users.values()]


# (county code, name of its clerk and leader, where its demo application stands, the path there)
DEMO_STAGES = (
    ("330521", "德清县", "county_review", ("submit",)),
    ("510129", "大邑县", "province_review", ("submit", "county_approve")),
    ("330522", "长兴县", "ministry_review", ("submit", "county_approve", "province_recommend")),
    ("510131", "蒲江县", "expert_review", ("submit", "county_approve", "province_recommend", "ministry_accept")),
    ("330421", "嘉善县", "rejected", ("submit", "county_approve", "province_reject")),
    ("330122", "桐庐县", "withdrawn", ("submit", "withdraw")),
)
DEMO_ASSESSMENT_2024 = (
    ("330523", "先进", 92),
    ("330521", "通过", 81),
    ("510129", "通过", 76),
    ("330522", "先进", 90),
    ("510131", "未通过", 58),
    ("330421", "通过", 72),
    ("330122", "通过", 70),
)
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n%%EOF\n"
)


def _applications_at_every_stage(call: Call, users: dict[str, User]) -> None:
    """So a newcomer can click through every stage that exists: one application at each, a round of
    assessment results, and a site inspection on the calendar."""
    import io

    from kxflow.applications.attachments import add_attachment
    from kxflow.applications.operations import fire_trigger
    from kxflow.assessments.operations import import_round
    from kxflow.inspections.operations import schedule

    def clerk_and_leader(code: str, name: str) -> tuple[User, User]:
        found = {u.role: u for u in users.values() if u.county_code == code}
        for role, suffix, title in (
            ("county_staff", "", "科技局 经办人"),
            ("county_leader", "_leader", "人民政府 县长"),
        ):
            found[role] = found.get(role) or create_user(
                username=f"demo_{code}{suffix}",
                password=DEMO_PASSWORD,
                role=role,
                county_code=code,
                email=f"demo_{code}{suffix}@demo.kxflow.local",
                display_name=f"{name}{title}",
            )
        return found["county_staff"], found["county_leader"]

    acting = {"submit": "clerk", "withdraw": "clerk", "county_approve": "leader", "ministry_accept": users["ministry"]}
    for code, name, _stage, path in DEMO_STAGES:
        clerk, leader = clerk_and_leader(code, name)
        province = users["zj_province"] if code.startswith("33") else users["sc_province"]
        app = create_application(clerk, call.id)
        update_indicators(
            clerk,
            app.id,
            {
                **DEMO_INDICATORS,
                "high_tech_enterprises": 9,
                "tech_contract_turnover": 4200.0,
                "people_trained": 12000,
                "info_service_12396_coverage": 88.0,
            },
        )
        for kind in ("self_assessment_report", "fiscal_st_spending_evidence", "leadership_group_document"):
            add_attachment(clerk, app.id, kind, f"{name}{kind}.pdf", io.BytesIO(MINIMAL_PDF))
        for trigger in path:
            who = acting.get(trigger)
            actor = clerk if who == "clerk" else leader if who == "leader" else who or province
            fire_trigger(actor, app.id, trigger, comment="演示数据")
    rows = "县（市）代码,考核年度,考核结果,得分\n" + "".join(f"{c},2024,{r},{s}\n" for c, r, s in DEMO_ASSESSMENT_2024)
    import_round(users["ministry"], "2024年全国县（市）科技进步考核结果.csv", rows.encode("utf-8"))
    pujiang = db.session.scalar(select(Application).where(Application.county_code == "510131"))
    schedule(
        users["ministry"],
        pujiang.id,
        scheduled_on=(clock.now() + timedelta(days=14)).date(),
        place="蒲江县科技局",
        team=[users["expert_zj"].id, users["expert_sc"].id],
    )
