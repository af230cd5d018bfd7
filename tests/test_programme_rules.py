"""The programme's rules where they bite: eligibility, 一票否决 and evidence at submission, the declared
assessment against the imported round, formal review before the panel, inspections moved or called off,
what a level above sees, and the audit of panel seats and scores."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from sqlalchemy import select

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.inspections.models import Inspection
from kxflow.reminders.models import Reminder
from kxflow.reminders.operations import scan_due
from kxflow.workdays import calendar
from kxflow.workflow.models import Application
from tests.factories import build_world
from tests.files import PDF
from tests.test_reminders import received
from tests.web_support import Browser


def beijing(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def scan(app):
    with app.app_context():
        scan_due()
        db.session.remove()


def other_call(world, **extra):
    now = clock.now()
    body = {
        "title": "另一批次",
        "year": now.year,
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "county_deadline": (now + timedelta(days=20)).isoformat(),
        "province_deadline": (now + timedelta(days=30)).isoformat(),
        "province_quota": 2,
        **extra,
    }
    r = world.api("post", "/api/v1/calls", "ministry", json=body)
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_a_designated_county_is_refused_with_the_reason_and_a_revoked_one_waits(world, app):
    old = world.new_application("zj_staff")
    world.db_state(old, "designated")
    call_id = other_call(world)
    r = world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": call_id})
    assert r.status_code == 422
    assert r.json["fields"]["call_id"][0].startswith("安吉县现为国家科技进步示范县（市）")
    assert "不得再次申报" in r.json["fields"]["call_id"][0]
    page = Browser(app, "zj_staff").text("/tasks")
    assert "本县（市）不能在该批次申报" in page and "不得再次申报" in page  # shown before opening one
    # revoked a year ago: it waits the call's three years
    world.db_state(old, "revoked")
    with app.app_context():
        db.session.execute(Application.__table__.update().values(revoked_at=clock.now() - timedelta(days=365)))
        db.session.commit()
    r = world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": call_id})
    assert r.status_code == 422 and "方可再次申报" in r.json["fields"]["call_id"][0]
    short = other_call(world, revoked_wait_years=1)
    assert world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": short}).status_code == 201


def test_a_failed_veto_item_blocks_submission(world):
    app_id = world.new_application()
    world.api(
        "patch",
        f"/api/v1/applications/{app_id}",
        "zj_staff",
        json={"indicators": {"leadership_group_top_leader": False}},
    )
    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 422
    assert "一票否决项未达标：成立由党委或政府主要领导任组长的科技领导小组。该申报不能提交。" in r.json["reasons"]
    assert world.db_application(app_id).state == "draft"


def test_an_indicator_needs_the_evidence_it_names(world):
    app_id = world.new_application(complete=False)
    from tests.factories import FULL_INDICATORS, REQUIRED_KINDS

    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": FULL_INDICATORS})
    for kind in REQUIRED_KINDS:
        world.upload(app_id, kind)
    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 422 and r.json["reasons"] == [
        "缺少证明材料：科技平台证明材料（用于生产力促进中心、科技企业孵化器、农业科技园区、工程技术研究中心）。"
    ]
    zero = {"productivity_promotion_centres": 0, "incubators": 0, "agri_st_parks": 0, "engineering_research_centres": 0}
    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": zero})
    assert world.fire(app_id, "submit", "zj_staff").status_code == 200  # claiming none needs no evidence


def test_a_declared_assessment_result_must_agree_with_the_imported_round(world):
    app_id = world.new_application()
    declared = {"latest_assessment_result": "先进", "latest_assessment_year": 2024}
    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": declared})
    score_declared = world.api("get", f"/api/v1/applications/{app_id}", "zj_staff").json["score"]
    rows = "县（市）代码,考核年度,考核结果\n330523,2024,未通过\n".encode()
    r = world.api(
        "post",
        "/api/v1/assessments",
        "ministry",
        data={"file": (io.BytesIO(rows), "2024.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201
    scored = world.api("get", f"/api/v1/applications/{app_id}", "zj_staff").json["score"]
    assert scored == score_declared - 10  # scored on the imported 未通过, not on the declared 先进
    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 422 and r.json["reasons"] == [
        "填报的考核结果（先进 · 2024）与导入的全国考核结果不一致：2024 年度结果为“未通过”。请更正；评分以导入结果为准。"
    ]
    world.api(
        "patch",
        f"/api/v1/applications/{app_id}",
        "zj_staff",
        json={"indicators": {"latest_assessment_result": "未通过"}},
    )
    assert world.fire(app_id, "submit", "zj_staff").status_code == 200


def test_formal_review_passes_with_no_panel_and_experts_are_told_when_scoring_opens(world):
    app_id = world.new_application()
    world.to_ministry(app_id)
    r = world.api("post", f"/api/v1/applications/{app_id}/panel", "ministry", json={"auto": True})
    assert r.status_code == 409 and r.json["error"] == "专家组在形式审查通过后、专家评审阶段组建。"
    r = world.fire(app_id, "ministry_accept", "ministry", comment="材料齐全")
    assert r.status_code == 200 and r.json["state"] == "expert_review"
    seated = world.seat_panel(app_id)
    expert = world.name_of(seated[0]["expert_id"])
    items = world.api("get", "/api/v1/notifications", expert).json["items"]
    assert items[0]["message"].startswith("安吉县：您已被指派为该申报的评审专家")
    assert world.score(seated[0]["id"], expert, 0.8).status_code == 200
    assert world.score(seated[0]["id"], expert, 0.7).status_code == 200
    history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
    assert [h["trigger"] for h in history][-5:] == ["panel_seat", "panel_seat", "panel_seat", "score", "score_change"]


def test_a_refused_action_keeps_the_typed_comment(world, app):
    app_id = world.new_application()
    world.to_expert_review(app_id)  # nobody has scored yet
    b = Browser(app, "ministry")
    r = b.post_form(
        f"/applications/{app_id}/transitions",
        {"trigger": "expert_reject", "comment": "材料与实际不符，建议不予通过", "confirm": "yes"},
        page=f"/applications/{app_id}",
    )
    assert r.status_code == 422
    html = r.data.decode()
    assert "尚有专家未评分" in html and ">材料与实际不符，建议不予通过</textarea>" in html
    assert world.db_application(app_id).state == "expert_review"


def test_a_rescheduled_inspection_sends_no_old_prompt(app, client):
    clock.freeze(beijing(2026, 11, 2, 9))
    world = build_world(app, client)
    app_id = world.new_application()
    world.db_state(app_id, "expert_review")
    first = world.set_inspection(app_id, days=4)  # Friday 6 November
    second = world.set_inspection(app_id, days=11, team=("expert_js",))  # moved to Friday the 13th
    with app.app_context():
        old = db.session.get(Inspection, first)
        assert old.cancelled_at is not None and old.cancel_reason.startswith("改期至")
        assert old.members == []  # the team is free that day again
        pending = db.session.scalars(
            select(Reminder).where(
                Reminder.inspection_id == first, Reminder.sent_at.is_(None), Reminder.cancelled_at.is_(None)
            )
        ).all()
        assert pending == []
    for day in (9, 10, 11, 12):  # the old date is past; no "report overdue" prompt for it
        world.travel(beijing(2026, 11, day, 9, 1))
        scan(app)
    assert received(app, "inspection_overdue") == []
    world.travel(beijing(2026, 11, 16, 9, 1))  # the working day after the new date
    scan(app)
    assert received(app, "inspection_overdue") == [("ministry", 3)]
    history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
    assert history[-1]["trigger"] == "inspection_cancelled"
    # cancelling with a reason stops the rest as well
    r = world.api("post", f"/api/v1/inspections/{second}/cancel", "ministry", json={"reason": "考察组成员有变"})
    assert r.status_code == 200 and r.json["cancelled_at"]
    world.travel(beijing(2026, 11, 17, 9, 1))
    scan(app)
    assert len(received(app, "inspection_overdue")) == 1


def test_inspection_teams_pass_the_conflict_rules_and_reports_wait_for_the_day(world, app):
    app_id = world.new_application("sc_staff")  # 大邑县, 四川
    world.db_state(app_id, "expert_review")
    day = (clock.now().astimezone(CHINA).date() + timedelta(days=10)).isoformat()
    body = {"scheduled_on": day, "place": "大邑县", "team": [world.ids["expert_sc"]], "rest_day_confirmed": True}
    r = world.api("post", f"/api/v1/applications/{app_id}/inspections", "ministry", json=body)
    assert r.status_code == 422 and r.json["fields"]["team"] == ["expert_sc 来自申报县所在省份。"]
    assert world.db_count(Inspection) == 0
    inspection_id = world.set_inspection(app_id, days=10, team=("expert_bj",))
    r = world.report(inspection_id, on_the_day=False, recommendation="pass")
    assert r.status_code == 422 and r.json["fields"]["findings"][0].startswith("考察报告须自考察当日")
    assert world.report(inspection_id, recommendation="pass").status_code == 200


def test_a_level_above_sees_what_was_sent_to_it_and_only_counts_the_rest(world, app):
    sent = world.new_application("zj_staff")
    world.walk(sent, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    world.fire(sent, "province_return", "zj_reviewer", comment="数据有误")  # back in draft: still seen
    unsent = world.new_application("zj2_staff")
    listed = {a["id"] for a in world.api("get", "/api/v1/applications", "zj_reviewer").json["items"]}
    assert listed == {sent}
    assert world.api("get", f"/api/v1/applications/{unsent}", "zj_reviewer").status_code == 404
    assert world.api("get", f"/api/v1/applications/{sent}/history", "zj_reviewer").status_code == 200
    assert world.api("get", "/api/v1/applications", "ministry").json["total"] == 0  # nothing reached it
    follow = world.api("get", "/api/v1/applications/follow-up", "zj_reviewer").json
    assert [(f["county_name"], f["unsent"]) for f in follow] == [("德清县", 1)]
    assert "indicators" not in follow[0] and "score" not in follow[0]


def test_the_county_submits_a_rectification_report_and_is_reminded(world, app):
    app_id = world.new_application()
    world.db_state(app_id, "designated")
    with app.app_context():
        db.session.execute(Application.__table__.update().values(state="designated"))
        db.session.commit()
    # a failed re-check puts it in rectification with its reminders
    inspection_id = world.set_inspection(app_id, kind="recheck", team=("expert_bj",), days=1)
    assert world.report(inspection_id, result="unsatisfactory").status_code == 200
    deadline = (clock.now() + timedelta(days=90)).astimezone(CHINA).replace(microsecond=0)
    r = world.fire(app_id, "fail_recheck", "ministry", comment="未达标", deadline=deadline.isoformat())
    assert r.status_code == 200
    with app.app_context():
        kinds = sorted(
            (r.kind, r.offset_days)
            for r in db.session.scalars(
                select(Reminder).where(
                    Reminder.application_id == app_id, Reminder.cancelled_at.is_(None), Reminder.sent_at.is_(None)
                )
            )
            if r.kind.startswith("rectification")
        )
        assert kinds == [
            ("rectification_due", 1),
            ("rectification_due", 7),
            ("rectification_due", 30),
            ("rectification_passed", 0),
        ]
        one_before = calendar.subtract_workdays(deadline, 1)
    empty = world.api(
        "post",
        f"/api/v1/applications/{app_id}/rectification-reports",
        "zj_staff",
        data={"summary": "已整改"},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 422 and empty.json["fields"]["files"] == ["请上传整改报告及佐证材料（至少一个文件）。"]
    r = world.api(
        "post",
        f"/api/v1/applications/{app_id}/rectification-reports",
        "zj_staff",
        data={"summary": "财政科技投入恢复增长", "files": [(io.BytesIO(PDF), "整改报告.pdf")]},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201 and r.json["files"][0]["original_name"] == "整改报告.pdf"
    assert world.api("get", f"/api/v1/applications/{app_id}/rectification-reports", "ministry").json[0]["summary"]
    assert received(app, "rectification_report") == [("ministry", None)]
    world.travel(one_before + timedelta(minutes=1))
    scan(app)
    assert ("zj_staff", 1) in received(app, "rectification_due")
