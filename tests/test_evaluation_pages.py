"""The pages of the ministry half: the panel on an application's page, the expert's scoring form,
inspection reports, the public notice with its objection form, objections resolved, the public roll."""

from __future__ import annotations

import io
from datetime import timedelta

from kxflow.core import clock
from kxflow.experts.models import Assignment
from kxflow.publicity.models import Objection
from tests.files import PDF
from tests.web_support import Browser


def test_ministry_seats_a_panel_and_an_expert_scores_on_the_pages(world, app):
    app_id = world.new_application()
    world.to_ministry(app_id)
    ministry = Browser(app, "ministry")
    page = ministry.text(f"/applications/{app_id}")
    assert "专家组" in page and "暂未指派专家" in page and 'id="auto-panel"' not in page  # formal review first
    r = ministry.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "ministry_accept", "comment": "材料齐全"},
        page=f"/applications/{app_id}",
    )
    assert r.status_code == 302 and world.db_application(app_id).state == "expert_review"  # no panel needed
    r = ministry.post_form(f"/applications/{app_id}/panel", {"auto": "yes"}, page=f"/applications/{app_id}")
    assert r.status_code == 302
    assert world.db_count(Assignment, Assignment.application_id == app_id) == 3

    seated = world.api("get", f"/api/v1/applications/{app_id}/panel", "ministry").json["assignments"]
    name = world.name_of(seated[0]["expert_id"])
    expert = Browser(app, name)
    assert expert.get("/tasks").headers["Location"].endswith("/assignments")
    listing = expert.text("/assignments")
    assert "安吉县" in listing and "未评分" in listing
    form_page = f"/assignments/{seated[0]['id']}"
    assert "成立由党委或政府主要领导任组长的科技领导小组" in expert.text(form_page)
    bad = expert.post_form(form_page, {"score-incubators": "9", "comment": "好"})
    assert bad.status_code == 200
    assert (
        "须在 0 至 5 之间" in bad.data.decode()
        and world.db_scalar(
            Assignment.__table__.select()
            .with_only_columns(Assignment.scored_at)
            .where(Assignment.id == seated[0]["id"])
        )
        is None
    )
    with app.app_context():
        from kxflow.indicators.models import definition_for

        items = definition_for("2026.1").scored
    good = {f"score-{i.key}": str(i.weight) for i in items} | {"comment": "材料翔实"}
    r = expert.post_form(form_page, good)
    assert r.status_code == 302
    assert "100" in expert.text("/assignments")
    # someone else's assignment is not found; the ministry sees the total on the panel
    other = Browser(app, world.name_of(seated[1]["expert_id"]))
    assert other.get(form_page).status_code == 404
    assert "100" in ministry.text(f"/applications/{app_id}")


def test_conflicting_panel_is_flagged_on_the_page(world, app):
    app_id = world.new_application()
    world.to_expert_review(app_id)
    world.score_panel(app_id, (0.95, 0.9, 0.4))
    page = Browser(app, "ministry").text(f"/applications/{app_id}")
    assert 'id="panel-conflicting"' in page and "意见分歧" in page


def test_inspection_report_and_public_notice_pages(world, app):
    app_id = world.new_application()
    world.to_expert_review(app_id)
    world.score_panel(app_id)
    ministry = Browser(app, "ministry")
    day = (clock.now() + timedelta(days=5)).date().isoformat()
    r = ministry.post_form(
        f"/applications/{app_id}/inspections",
        {
            "scheduled_on": day,
            "place": "安吉县科技局",
            "team": [str(world.ids["expert_bj"])],
            "kind": "site",
            "rest_day": "yes",  # whatever day of the week the tests run
        },
        page=f"/applications/{app_id}",
    )
    assert r.status_code == 302
    world.walk(app_id, ("schedule_inspection", "ministry"))
    inspection_id = world.api("get", "/api/v1/inspections", "ministry").json[0]["id"]
    member = Browser(app, "expert_bj")
    assert "自考察当日起方可记录考察报告。" in member.text(f"/applications/{app_id}")  # not before the day
    world.to_inspection_day(inspection_id)
    # days later: the sessions of before have run out (idle and absolute limits); both log in again
    member, ministry = Browser(app, "expert_bj"), Browser(app, "ministry")
    page = member.text(f"/applications/{app_id}")
    assert "记录考察报告" in page
    html = member.get(f"/applications/{app_id}").data.decode()
    from tests.web_support import csrf_token

    r = member.client.post(
        f"/inspections/{inspection_id}/report",
        data={
            "csrf_token": csrf_token(html),
            "findings": "平台运行良好",
            "recommendation": "pass",
            "files": (io.BytesIO(PDF), "考察记录.pdf"),
        },
        headers=member.headers,
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    assert "考察记录.pdf" in ministry.text(f"/applications/{app_id}")
    world.walk(app_id, ("pass_inspection", "ministry"))

    public = Browser(app)  # nobody logged in
    listing = public.text("/public/notices")
    assert "安吉县" in listing and "浙江省" in listing
    form = f"/public/notices/{app_id}/objection"
    r = public.post_form(form, {"kind": "person", "text": "数据不实", "person_name": "李四", "contact": "不详"})
    assert r.status_code == 422 and "请填写电话号码或电子邮箱" in r.data.decode()
    assert world.db_count(Objection) == 0
    r = public.post_form(form, {"kind": "person", "text": "数据不实", "person_name": "李四", "contact": "13900000000"})
    assert r.status_code == 302 and world.db_count(Objection) == 1
    assert public.get("/public/notices/999999/objection").status_code == 404

    # the ministry resolves it on the application's page; the county's page shows no objector
    page = ministry.text(f"/applications/{app_id}")
    assert "李四" in page and "13900000000" in page
    assert "李四" not in Browser(app, "zj_staff").text(f"/applications/{app_id}")
    objection_id = world.api("get", f"/api/v1/applications/{app_id}/objections", "ministry").json[0]["id"]
    r = ministry.post_form(
        f"/objections/{objection_id}/resolve",
        {"outcome": "dismissed", "reason": "经核实无误", "application_id": str(app_id)},
        page=f"/applications/{app_id}",
    )
    assert r.status_code == 302
    world.travel(clock.now() + timedelta(days=8))
    world.walk(app_id, ("designate", "ministry"))
    roll = Browser(app).text("/public/counties")
    assert "安吉县" in roll and "已命名" in roll


def test_every_demo_stage_opens_for_the_ministry_and_the_public(app):
    from sqlalchemy import select

    from kxflow.core.db import db
    from kxflow.demo import DEMO_PASSWORD, seed_demo
    from kxflow.workflow.models import Application

    with app.app_context():
        seed_demo()
        db.session.commit()
        apps = {a.state: a.id for a in db.session.scalars(select(Application))}
    ministry = app.test_client()
    login = ministry.get("/login").data.decode()
    from tests.web_support import csrf_token

    r = ministry.post(
        "/login", data={"username": "ministry", "password": DEMO_PASSWORD, "csrf_token": csrf_token(login)}
    )
    assert r.status_code == 302
    for state, app_id in apps.items():
        page = ministry.get(f"/applications/{app_id}")
        # the ministry opens what has been sent to it (嘉善县 was rejected by its province); the rest it counts
        expected = 404 if state in ("draft", "county_review", "province_review", "withdrawn", "rejected") else 200
        assert page.status_code == expected, state
    follow_up = ministry.get("/tasks").data.decode()
    assert "德清县" in follow_up and "逾期未提交" in follow_up  # counted, with the close-out flag
    assert "林某某" in ministry.get(f"/applications/{apps['publicity']}").data.decode()
    assert "意见分歧" not in ministry.get(f"/applications/{apps['expert_review']}").data.decode()
    public = app.test_client()
    assert "平湖市" in public.get("/public/notices").data.decode()
    roll = public.get("/public/counties").data.decode()
    assert all(name in roll for name in ("桐乡市", "都江堰市", "彭州市")) and "已撤销（摘牌）" in roll


def test_ministry_keeps_the_expert_pool_on_its_page(world, app):
    """Conflicts are chosen by name (the picker, or its words without script), never typed as codes."""
    ministry = Browser(app, "ministry")
    page = ministry.text("/experts")
    assert "专家库" in page and "expert_js" in page
    profile = f"/experts/{world.ids['expert_js']}"
    r = ministry.post_form(
        profile, {"field": "农业", "conflict_add": "330523", "conflict_add_text": "浙江省 湖州市 安吉县"}
    )
    assert r.status_code == 302
    r = ministry.post_form(profile, {"field": "农业", "conflict": "330523", "conflict_add_text": "北京市"})
    assert r.status_code == 302
    pool = {e["username"]: e for e in world.api("get", "/api/v1/experts", "ministry").json}
    assert pool["expert_js"]["field"] == "农业"
    assert {(c["county_code"], c["province_code"]) for c in pool["expert_js"]["conflicts"]} == {
        ("330523", None),
        (None, "110000"),
    }
    assert "浙江省 湖州市 安吉县" in ministry.text("/experts")  # the pool names them, no codes
    r = ministry.post_form(
        profile, {"field": "农业", "conflict": ["330523", "110000"], "conflict_add_text": "不存在县"}
    )
    assert r.status_code == 422 and "找不到“不存在县”" in r.data.decode()
    pool = {e["username"]: e for e in world.api("get", "/api/v1/experts", "ministry").json}
    assert len(pool["expert_js"]["conflicts"]) == 2  # the refused edit wrote nothing
    app_id = world.new_application()  # 安吉县 (330523)
    world.to_ministry(app_id)
    proposal = world.api("get", f"/api/v1/applications/{app_id}/panel/proposal?size=5", "ministry").json
    assert "expert_js" not in [e["username"] for e in proposal]
    assert Browser(app, "zj_staff").get("/experts").status_code == 403


def test_ministry_publishes_an_indicator_set_by_editing_the_latest(world, app):
    import json

    from kxflow.indicators.models import IndicatorSet

    ministry = Browser(app, "ministry")
    page = ministry.text("/indicator-sets")
    assert "2026.1" in page and "校验并发布" in page
    with app.app_context():
        from kxflow.core.db import db

        raw = db.session.get(IndicatorSet, "2026.1").definition
    broken = {**raw, "version": "2027.1", "total_weight": 99}
    r = ministry.post_form("/indicator-sets", {"text": json.dumps(broken, ensure_ascii=False)})
    assert r.status_code == 200 and "指标体系不合规：" in r.data.decode()
    assert world.db_count(IndicatorSet, IndicatorSet.version == "2027.1") == 0
    assert "2027.1" in r.data.decode()  # the edited text is kept for correcting
    r = ministry.post_form("/indicator-sets", {"text": json.dumps({**raw, "version": "2027.1"}, ensure_ascii=False)})
    assert r.status_code == 302
    assert world.db_count(IndicatorSet, IndicatorSet.version == "2027.1") == 1
    province = Browser(app, "zj_reviewer")
    page = province.text("/indicator-sets")  # every role reads the published versions
    assert "2027.1" in page and "校验并发布" not in page
    assert province.post_form("/indicator-sets", {"text": "{}"}).status_code == 403
