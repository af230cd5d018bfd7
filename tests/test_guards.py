"""Each guard refuses with 422 and names its reason; all reasons come at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.notifications.models import Notification
from kxflow.workflow.models import Application, AuditRecord
from kxflow.workflow.triggers import TRIGGERS
from tests.factories import build_world

COMMENT_TRIGGERS = [t for t in TRIGGERS if t.comment_required]
START = {
    "county_return": "county_review",
    "province_return": "province_review",
    "province_reject": "province_review",
    "ministry_return": "ministry_review",
    "ministry_reject": "ministry_review",
}
ACTOR = {
    "county_return": "zj_leader",
    "province_return": "zj_reviewer",
    "province_reject": "zj_reviewer",
    "ministry_return": "ministry",
    "ministry_reject": "ministry",
}


def assert_unchanged(world, app_id, state):
    assert world.db_application(app_id).state == state
    assert world.db_count(AuditRecord, AuditRecord.application_id == app_id) == 0


@pytest.mark.parametrize("spec", COMMENT_TRIGGERS, ids=[t.name for t in COMMENT_TRIGGERS])
@pytest.mark.parametrize("comment", [None, "", "   "])
def test_comment_required(world, spec, comment):
    app_id = world.new_application()
    start = START.get(spec.name, spec.sources[0])
    world.db_state(app_id, start)
    r = world.fire(app_id, spec.name, ACTOR.get(spec.name, "ministry"), comment=comment)
    assert r.status_code == 422
    assert r.json["code"] == "guard_failed"
    assert "此操作须填写意见（理由）。" in r.json["reasons"]
    if spec.name in START:  # the earlier triggers have no other guard
        assert r.json["reasons"] == ["此操作须填写意见（理由）。"]
    assert_unchanged(world, app_id, start)


def test_submit_lists_every_missing_indicator_and_attachment(world):
    app_id = world.new_application(complete=False)
    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": {"st_commissioners": 10}})
    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 422
    reasons = r.json["reasons"]
    assert "指标未填写：本级财政科技支出（申报前第三年）。" in reasons
    assert "指标未填写：科技特派员。" not in reasons
    assert "缺少附件：自评报告。" in reasons and "缺少附件：科技领导小组成立文件。" in reasons
    assert len(reasons) == 16 + 3  # 17 required indicators less the one given, and 3 attachments
    assert_unchanged(world, app_id, "draft")


def test_submit_reasons_in_english_when_asked(world):
    app_id = world.new_application(complete=False)
    r = world.api(
        "post",
        f"/api/v1/applications/{app_id}/transitions",
        "zj_staff",
        json={"trigger": "submit"},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    assert "Attachment missing: Self-assessment report." in r.json["reasons"]


def test_submit_needs_the_call_open(world):
    app_id = world.new_application()
    with world.app.app_context():
        call = world.db_scalar(select(Call))
        deadline = call.county_deadline
    world.travel(deadline + timedelta(minutes=1))
    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 422
    assert len(r.json["reasons"]) == 1 and "县级申报截止时间" in r.json["reasons"][0] and "已过" in r.json["reasons"][0]
    assert_unchanged(world, app_id, "draft")
    world.travel(deadline)  # the deadline itself is still in time
    assert world.fire(app_id, "submit", "zj_staff").status_code == 200


def test_a_call_not_yet_open_takes_no_applications(app, client):
    world = build_world(app, client, opens_at=clock.now() + timedelta(days=2))
    r = world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": world.call_id})
    assert r.status_code == 422 and r.json["fields"]["call_id"] == ["该申报批次当前不在申报期内。"]
    assert world.db_count(Application) == 0


def test_province_deadline(world):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    with world.app.app_context():
        deadline = world.db_scalar(select(Call)).province_deadline
    world.travel(deadline + timedelta(seconds=1))
    r = world.fire(app_id, "province_recommend", "zj_reviewer")
    assert r.status_code == 422 and "省级推荐截止时间" in r.json["reasons"][0]
    assert world.db_application(app_id).state == "province_review"


def test_province_quota_counts_places_taken_and_frees_returned_ones(app, client):
    world = build_world(app, client, province_quota=1)
    first = world.new_application("zj_staff")
    second = world.new_application("zj2_staff")
    world.to_ministry(first)
    world.walk(second, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"))
    r = world.fire(second, "province_recommend", "zj_reviewer")
    assert r.status_code == 422
    assert r.json["reasons"] == ["本省在该批次的推荐名额（1 个）已用完：已用 1 个，剩余 0 个。"]
    # another province's quota is its own
    other = world.new_application("sc_staff")
    world.to_ministry(other, county="sc")
    # the ministry returns the first: its place is free until it is recommended again
    world.walk(first, ("ministry_return", "ministry"))
    assert world.fire(second, "province_recommend", "zj_reviewer").status_code == 200
    r = world.fire(first, "province_recommend", "zj_reviewer")
    assert r.status_code == 422 and "名额" in r.json["reasons"][0]


def test_quota_override_per_province(app, client):
    world = build_world(app, client, province_quota=0, quota_overrides={"330000": 1})
    first = world.new_application("zj_staff")
    world.to_ministry(first)  # 浙江 has one place by override
    other = world.new_application("sc_staff")
    world.walk(other, ("submit", "sc_staff"), ("county_approve", "sc_leader"))
    r = world.fire(other, "province_recommend", "sc_reviewer")
    assert r.status_code == 422 and "（0 个）" in r.json["reasons"][0]


@pytest.mark.parametrize(("ending", "actor"), [("ministry_reject", "ministry"), ("withdraw", "zj_leader")])
def test_rejected_and_withdrawn_free_their_place(app, client, ending, actor):
    world = build_world(app, client, province_quota=1)
    first = world.new_application("zj_staff")
    world.to_ministry(first)
    world.walk(first, (ending, actor))
    second = world.new_application("zj2_staff")
    world.walk(second, ("submit", "zj2_staff"), ("county_approve", "zj2_leader"), ("province_recommend", "zj_reviewer"))
    assert world.db_application(second).state == "ministry_review"


def test_refused_guard_writes_no_notification(world):
    app_id = world.new_application(complete=False)
    world.fire(app_id, "submit", "zj_staff")
    assert world.db_count(Notification) == 0
