"""Indicator set version 2 (every task of the plan): what it carries, a call on it, calls on version 1 untouched;
and on the form, each indicator's 填报说明 and a warning for a figure no county would have."""

from __future__ import annotations

import json

from sqlalchemy import select

from kxflow.calls.models import Call
from kxflow.core.db import db
from kxflow.demo import seed_demo
from kxflow.indicators.definition import SETS_DIR, parse
from kxflow.indicators.models import definition_for
from tests.factories import FULL_INDICATORS
from tests.test_programme_rules import other_call
from tests.web_support import Browser

V2 = parse(json.loads((SETS_DIR / "2026.2.json").read_text(encoding="utf-8")))

# the plan's tasks that version 1 does not carry, as a reader finds them in version 2's labels
PLAN_TASKS = (
    "科技成果转化",
    "技术合同",  # 技术市场
    "科技创业园",
    "孵化",
    "专家大院",
    "农村专业技术协会",
    "农村信息化",
    "科技金融",
    "科技型中小企业",
    "产学研",
    "科普",
    "可持续发展",
    "专业技术人员",  # 科技人才
    "目标责任制",
    "科技管理机构",
)

V2_VALUES = {
    **FULL_INDICATORS,
    "target_responsibility_system": True,
    "st_management_body": "独立设置",
    "st_entrepreneurship_parks": 1,
    "expert_courtyards": 2,
    "rural_tech_associations": 15,
    "tech_transfer_projects": 12,
    "st_smes": 40,
    "industry_university_projects": 6,
    "st_finance": 8000.0,
    "rural_informatization_coverage": 90.0,
    "st_talent_per_10k": 180.0,
    "science_literacy_rate": 8.5,
    "sustainable_development_zone": False,
}


def test_version_2_carries_every_task_of_the_plan_with_units_maxima_scoring_and_vetoes():
    text = " ".join(g["label_zh"] for g in V2.groups) + " ".join(i.label_zh for i in (*V2.inputs, *V2.computed))
    missing = [task for task in PLAN_TASKS if task not in text]
    assert missing == []
    assert V2.total_weight == 100 and len(V2.inputs) > 2 * 14
    for item in V2.inputs:
        assert item.guidance_zh and item.guidance_en, item.key  # 填报说明 for every item
        if item.type in ("number", "integer"):
            assert item.unit and item.max is not None, item.key
    assert {i.key for i in (*V2.inputs, *V2.computed) if i.veto} == {
        "leadership_group_top_leader",
        "target_responsibility_system",
        "st_management_body",
        "st_share_change_pp",
    }
    assert sum(i.weight for i in V2.scored) == 100


def test_a_call_on_version_2_scores_its_items_and_vetoes_while_version_1_calls_go_on(world):
    assert world.api("get", f"/api/v1/calls/{world.call_id}", "ministry").json["indicator_set_version"] == "2026.1"
    new_call = other_call(world)  # a call opened now takes the newest version
    assert world.api("get", f"/api/v1/calls/{new_call}", "ministry").json["indicator_set_version"] == "2026.2"

    app_v2 = world.new_application("zj_staff", complete=False, call_id=new_call)
    r = world.api("patch", f"/api/v1/applications/{app_v2}", "zj_staff", json={"indicators": V2_VALUES})
    assert r.status_code == 200, r.json
    assert r.json["score"] > 60 and r.json["veto_failures"] == []
    # a version 1 item name that version 2 does not know is refused
    r = world.api("patch", f"/api/v1/applications/{app_v2}", "zj_staff", json={"indicators": {"no_such": 1}})
    assert r.status_code == 422
    r = world.api(
        "patch", f"/api/v1/applications/{app_v2}", "zj_staff", json={"indicators": {"st_management_body": "未设置"}}
    )
    assert r.json["veto_failures"] == ["st_management_body"]
    r = world.fire(app_v2, "submit", "zj_staff")
    assert r.status_code == 422
    assert "一票否决项未达标：县级科技管理机构。该申报不能提交。" in r.json["reasons"]

    # the version 1 call in the same database: its form, score and submission are as before
    app_v1 = world.new_application("sc_staff")
    r = world.api("get", f"/api/v1/applications/{app_v1}", "sc_staff")
    assert r.json["score"] > 60 and "st_management_body" not in r.json["indicators"]
    assert world.fire(app_v1, "submit", "sc_staff").status_code == 200


def test_the_demo_opens_its_next_call_on_version_2(app):
    with app.app_context():
        seed_demo()
        db.session.commit()
        calls = db.session.scalars(select(Call).order_by(Call.opens_at)).all()
        assert [c.indicator_set_version for c in calls] == ["2026.1", "2026.1", "2026.1", "2026.2"]
        assert calls[-1].opens_at > calls[-2].county_deadline  # next year's, announced
        assert definition_for("2026.2").title_zh.startswith("国家科技进步示范县（市）申报指标（第二版")


def test_the_form_explains_each_indicator_and_warns_of_an_implausible_figure(world, app):
    app_id = world.new_application()
    browser = Browser(app, "zj_staff")
    page = browser.text(f"/applications/{app_id}/edit")
    # version 1 gains the 填报说明 too (help text, not a rule)
    assert "填写说明： 经市级以上认定的工程技术研究中心数；县域通常不超过数十个。" in page
    assert "请核对" not in page
    implausible = {"indicators": {"engineering_research_centres": 1000}}
    r = world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json=implausible)
    assert r.status_code == 200  # allowed: a warning, not an error
    page = browser.text(f"/applications/{app_id}/edit")
    assert "工程技术研究中心：对一个县而言明显偏高（通常不超过 50 个），请核对。" in page
    preview = browser.post_form(
        f"/applications/{app_id}/preview", {"incubators": "300"}, page=f"/applications/{app_id}/edit"
    ).json
    assert "科技企业孵化器：对一个县而言明显偏高（通常不超过 20 个），请核对。" in preview["warnings"]
