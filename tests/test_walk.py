"""A full walk county → province → ministry through the HTTP layer, as the users would do it."""

from __future__ import annotations


def test_county_to_ministry_walk(world):
    app_id = world.new_application("zj_staff")
    r = world.api("get", f"/api/v1/applications/{app_id}", "zj_staff")
    assert r.json["state"] == "draft" and r.json["state_label"] == "草稿"
    assert r.json["allowed_triggers"] == ["submit", "withdraw"]
    assert r.json["veto_failures"] == []
    assert r.json["computed"]["st_share_y3"] == round(6300 / 290000 * 100, 4)

    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 200
    assert r.json["state"] == "county_review" and r.json["state_label"] == "县级审核"

    # the leader is told, in Chinese, that it is their turn
    r = world.api("get", "/api/v1/notifications", "zj_leader")
    assert r.json["unread"] == 1
    assert r.json["items"][0]["kind"] == "action_required"
    assert "安吉县" in r.json["items"][0]["message"] and "请您办理" in r.json["items"][0]["message"]

    r = world.fire(app_id, "county_return", "zj_leader", comment="请补充科技特派员名单")
    assert r.status_code == 200 and r.json["state"] == "draft"
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))

    r = world.fire(app_id, "province_return", "zj_reviewer", comment="财政数据与统计年鉴不一致")
    assert r.json["state"] == "draft"
    assert world.api("get", f"/api/v1/applications/{app_id}", "zj_staff").json["revision_round"] == 1

    world.walk(
        app_id,
        ("submit", "zj_staff"),
        ("county_approve", "zj_leader"),
        ("province_recommend", "zj_reviewer"),
    )
    r = world.fire(app_id, "ministry_return", "ministry", comment="推荐函缺省厅盖章")
    assert r.json["state"] == "province_review"
    world.walk(app_id, ("province_recommend", "zj_reviewer"))
    # the formal review passes on its own: the panel is formed in expert review, after it
    r = world.fire(app_id, "ministry_accept", "ministry")
    assert r.status_code == 200 and r.json["state"] == "expert_review"
    assert len(world.seat_panel(app_id)) == 3

    history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
    assert [h["trigger"] for h in history] == [
        "submit",
        "county_return",
        "submit",
        "county_approve",
        "province_return",
        "submit",
        "county_approve",
        "province_recommend",
        "ministry_return",
        "province_recommend",
        "ministry_accept",
        "panel_seat",  # each seat is on the timeline now
        "panel_seat",
        "panel_seat",
    ]
    assert history[1] | {"at": None} == {
        "trigger": "county_return",
        "from_state": "county_review",
        "to_state": "draft",
        "actor": "zj_leader",
        "actor_role": "county_leader",
        "comment": "请补充科技特派员名单",
        "revision_round": 0,
        "at": None,
    }
    accepted = history[-4]  # then the three seats of the panel, each on the timeline
    assert accepted["from_state"] == "ministry_review" and accepted["to_state"] == "expert_review"
    # the county staff is informed of the outcome
    messages = [n["message"] for n in world.api("get", "/api/v1/notifications", "zj_staff").json["items"]]
    assert any("专家评审" in m for m in messages)


def test_withdraw_until_the_ministry_acts(world):
    app_id = world.new_application("zj_staff")
    world.to_ministry(app_id)
    r = world.fire(app_id, "withdraw", "zj_leader")
    assert r.status_code == 200 and r.json["state"] == "withdrawn" and r.json["allowed_triggers"] == []
    # a withdrawn application does not block a new one in the same call
    r = world.api("post", "/api/v1/applications", "zj_staff", json={"call_id": world.call_id})
    assert r.status_code == 201
