"""Expert review: conflict-of-interest refusals, a balanced automatic panel, 加签 and 回避, scoring
only one's own assignments, the weighted aggregate with its spread and conflicting flag, and veto."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kxflow.experts.models import Assignment, ExpertConflict
from kxflow.notifications.models import Notification
from kxflow.workdays.calendar import add_workdays, subtract_workdays


def panel(world, app_id):
    return world.api("get", f"/api/v1/applications/{app_id}/panel", "ministry").json


def test_experts_from_the_province_or_with_a_declared_conflict_are_refused(world):
    app_id = world.new_application()  # 安吉县, 浙江
    world.to_ministry(app_id)
    world.walk(app_id, ("ministry_accept", "ministry"))  # formal review passed: the panel is formed now
    r = world.api(
        "put",
        f"/api/v1/experts/{world.ids['expert_js']}/profile",
        "ministry",
        json={"field": "农业科技", "conflicts": [{"county_code": "330523", "reason": "曾在安吉县任职"}]},
    )
    assert r.status_code == 200
    world.api(
        "put",
        f"/api/v1/experts/{world.ids['expert_hb']}/profile",
        "ministry",
        json={"field": "科技管理", "conflicts": [{"province_code": "330000"}]},
    )
    ids = [world.ids[n] for n in ("expert", "expert_js", "expert_hb", "expert_bj")]
    r = world.api("post", f"/api/v1/applications/{app_id}/panel", "ministry", json={"expert_ids": ids})
    assert r.status_code == 422
    assert r.json["fields"]["expert_ids"] == [
        "expert 来自申报县所在省份。",
        "expert_js 已声明与该县存在利益冲突。",
        "expert_hb 已声明与该县存在利益冲突。",
    ]
    assert world.db_count(Assignment) == 0  # nothing written, not even the eligible one
    # others may not assign; a draft cannot have a panel yet
    assert (
        world.api("post", f"/api/v1/applications/{app_id}/panel", "zj_reviewer", json={"auto": True}).status_code == 403
    )
    draft = world.new_application("zj2_staff")
    # a draft has no panel; the ministry does not even see it until it is sent
    assert world.api("post", f"/api/v1/applications/{draft}/panel", "ministry", json={"auto": True}).status_code == 404
    # the proposal leaves them out as well: only two eligible experts remain for 安吉县
    proposal = world.api("get", f"/api/v1/applications/{app_id}/panel/proposal", "ministry").json
    assert sorted(e["username"] for e in proposal) == ["expert_bj", "expert_sc"]
    world.api("post", f"/api/v1/applications/{app_id}/panel", "ministry", json={"auto": True})
    r = world.fire(app_id, "expert_reject", "ministry", comment="x")  # two experts: the review cannot close
    assert r.status_code == 422 and r.json["reasons"] == ["专家组现有 2 名专家，至少需要 3 名。"]


def test_the_automatic_panel_balances_load_across_experts(world):
    apps = []
    for staff in ("zj_staff", "zj2_staff", "sc_staff"):
        app_id = world.new_application(staff)
        world.db_state(app_id, "expert_review")
        apps.append(app_id)
    for app_id in apps[:2]:  # two 浙江 counties: four eligible experts share six seats
        assert len(world.seat_panel(app_id)) == 3
    pool = {e["username"]: e["load"] for e in world.api("get", "/api/v1/experts", "ministry").json}
    assert pool == {"expert": 0, "expert_bj": 2, "expert_js": 2, "expert_hb": 1, "expert_sc": 1}
    # for 大邑县 (四川) the lightest eligible experts come first; 四川's own expert is never offered
    proposal = world.api("get", f"/api/v1/applications/{apps[2]}/panel/proposal", "ministry").json
    assert [e["username"] for e in proposal] == ["expert", "expert_hb", "expert_bj"]
    world.seat_panel(apps[2])
    for app_id, province in zip(apps, ("330000", "330000", "510000"), strict=True):
        members = {world.name_of(a["expert_id"]) for a in panel(world, app_id)["assignments"]}
        assert len(members) == 3 and all(USERS_PROVINCE[m] != province for m in members)


USERS_PROVINCE = {
    "expert": "330000",
    "expert_bj": "110000",
    "expert_js": "320000",
    "expert_hb": "420000",
    "expert_sc": "510000",
}


def test_an_expert_sees_and_scores_only_their_assignments(world):
    mine = world.new_application()
    other = world.new_application("sc_staff")
    seated = world.to_expert_review(mine)
    expert = world.name_of(seated[0]["expert_id"])
    outsider = next(n for n in USERS_PROVINCE if n not in {world.name_of(a["expert_id"]) for a in seated} | {"expert"})
    assert world.api("get", f"/api/v1/applications/{mine}", expert).status_code == 200
    assert world.api("get", f"/api/v1/applications/{other}", expert).status_code == 404
    assert world.api("get", f"/api/v1/applications/{mine}", outsider).status_code == 404
    listed = world.api("get", "/api/v1/applications", expert).json["items"]
    assert [a["id"] for a in listed] == [mine]
    own_view = world.api("get", f"/api/v1/applications/{mine}/panel", expert).json
    assert [a["expert_id"] for a in own_view["assignments"]] == [world.ids[expert]] and own_view["aggregate"] is None
    # someone else's assignment is not theirs to score
    assert world.score(seated[1]["id"], expert).status_code == 404

    r = world.api(
        "put",
        f"/api/v1/assignments/{seated[0]['id']}/score",
        expert,
        json={"scores": {"leadership_group_top_leader": 11, "incubators": "多", "bogus": 1}, "comment": " "},
    )
    assert r.status_code == 422
    fields = r.json["fields"]
    assert fields["scores.leadership_group_top_leader"] == ["须在 0 至 10 之间。"]
    assert fields["scores.incubators"] == ["不是数字。"]
    assert fields["scores.people_trained"] == ["请为“科技培训人次”评分。"]
    assert fields["scores"] == ["不是评分项：bogus。"] and fields["comment"] == ["此项为必填项。"]
    assert world.db_scalar(select(Assignment.scored_at).where(Assignment.id == seated[0]["id"])) is None

    assert world.score(seated[0]["id"], expert, 0.5).json["total"] == 50
    assert world.score(seated[0]["id"], expert, 0.7).json["total"] == 70  # changed while the review is open
    for a in seated[1:]:
        world.score(a["id"], world.name_of(a["expert_id"]), 0.6)
    world.walk(mine, ("expert_reject", "ministry"))
    r = world.score(seated[0]["id"], expert, 0.9)
    assert r.status_code == 409  # the review has closed


def test_aggregate_is_the_weighted_mean_with_spread_and_a_conflicting_flag(world):
    app_id = world.new_application()
    seated = world.to_expert_review(app_id)
    r = world.fire(app_id, "schedule_inspection", "ministry")
    assert r.status_code == 422
    assert r.json["reasons"][0].startswith("尚有专家未评分：")
    assert r.json["reasons"][1] == "请先确定实地考察的日期、地点和考察组。"
    assert world.fire(app_id, "expert_reject", "ministry", comment="x").json["reasons"][0].startswith("尚有专家未评分")

    names = [world.name_of(a["expert_id"]) for a in seated]
    world.score(seated[0]["id"], names[0], 0.9)  # 90
    world.score(seated[1]["id"], names[1], 0.8)  # 80
    summary = panel(world, app_id)["aggregate"]
    assert summary == {
        "experts": 3,
        "scored": 2,
        "weighted_mean": 85.0,
        "spread": 10.0,
        "conflicting": False,
        "veto_failures": [],
        "complete": False,
    }
    world.score(seated[2]["id"], names[2], 0.5)  # 50: the spread is 40, past the call's gap of 20
    summary = panel(world, app_id)["aggregate"]
    assert summary["weighted_mean"] == round((90 + 80 + 50) / 3, 2) and summary["spread"] == 40.0
    assert summary["conflicting"] is True and summary["complete"] is True

    # 加签 with double weight: the mean leans towards the added expert
    added = world.api(
        "post",
        f"/api/v1/applications/{app_id}/panel",
        "ministry",
        json={
            "expert_ids": [world.ids[n] for n in USERS_PROVINCE if n not in names and n != "expert"][:1],
            "weight": 2,
        },
    ).json[0]
    assert added["added_late"] is True
    r = world.fire(app_id, "schedule_inspection", "ministry")
    assert "尚有专家未评分" in r.json["reasons"][0]
    world.score(added["id"], world.name_of(added["expert_id"]), 1.0)  # 100, weight 2
    assert panel(world, app_id)["aggregate"]["weighted_mean"] == round((90 + 80 + 50 + 200) / 5, 2)


def test_below_the_threshold_no_inspection(world):
    app_id = world.new_application()
    world.to_expert_review(app_id)
    world.score_panel(app_id, (0.5, 0.55, 0.6))
    world.set_inspection(app_id)
    r = world.fire(app_id, "schedule_inspection", "ministry")
    assert r.status_code == 422 and r.json["reasons"] == ["专家组评分 55 低于本批次门槛 60。"]


@pytest.mark.parametrize("source", ["expert", "figures"])
def test_a_failed_veto_item_fails_whatever_the_score(world, source):
    app_id = world.new_application()
    seated = world.to_expert_review(app_id)
    if source == "figures":
        from sqlalchemy import update

        from kxflow.core.db import db
        from kxflow.workflow.models import Application

        with world.app.app_context():
            db.session.execute(
                update(Application).where(Application.id == app_id).values(veto_failures=["st_share_change_pp"])
            )
            db.session.commit()
    for a in seated:
        veto = ["st_share_change_pp"] if source == "expert" and a is seated[0] else []
        assert world.score(a["id"], world.name_of(a["expert_id"]), 1.0, veto_failed=veto).status_code == 200
    world.set_inspection(app_id)
    r = world.fire(app_id, "schedule_inspection", "ministry")
    assert r.status_code == 422
    assert r.json["reasons"] == ["一票否决项未通过，不论得分：科技支出占比变化。"]
    assert world.fire(app_id, "expert_reject", "ministry", comment="一票否决").status_code == 200


def test_recusal_removes_the_expert_and_asks_for_a_replacement(world):
    app_id = world.new_application()
    seated = world.to_expert_review(app_id)
    leaving = world.name_of(seated[0]["expert_id"])
    r = world.api("post", f"/api/v1/assignments/{seated[0]['id']}/recuse", leaving, json={"reason": " "})
    assert r.status_code == 422 and r.json["fields"]["reason"] == ["此项为必填项。"]
    r = world.api("post", f"/api/v1/assignments/{seated[0]['id']}/recuse", leaving, json={"reason": "近亲属在该县任职"})
    assert r.status_code == 200 and r.json["recused_at"]
    assert world.api("get", f"/api/v1/applications/{app_id}", leaving).status_code == 404
    asked = world.db_count(
        Notification, Notification.event == "expert_recused", Notification.recipient_id == world.ids["ministry"]
    )
    assert asked == 1
    message = world.api("get", "/api/v1/notifications", "ministry").json["items"][0]["message"]
    assert "回避" in message and "近亲属在该县任职" in message
    conflicts = world.db_count(ExpertConflict, ExpertConflict.user_id == world.ids[leaving])
    assert conflicts == 1
    # the panel is short now; the proposal offers someone else, never the one who stepped aside
    world.score_panel(app_id, (0.9, 0.9))
    world.set_inspection(app_id, team=("ministry",))
    r = world.fire(app_id, "schedule_inspection", "ministry")
    assert r.json["reasons"] == ["专家组现有 2 名专家，至少需要 3 名。"]
    proposal = world.api("get", f"/api/v1/applications/{app_id}/panel/proposal", "ministry").json
    assert len(proposal) == 1 and proposal[0]["username"] != leaving
    r = world.api("post", f"/api/v1/applications/{app_id}/panel", "ministry", json={"expert_ids": [world.ids[leaving]]})
    assert r.status_code == 422  # already sat on this panel (and now declared in conflict)
    added = world.api("post", f"/api/v1/applications/{app_id}/panel", "ministry", json={"auto": True}).json
    world.score(added[0]["id"], world.name_of(added[0]["expert_id"]), 0.9)
    assert world.fire(app_id, "schedule_inspection", "ministry").status_code == 200


def test_experts_who_have_not_scored_are_reminded_before_the_due_date(world, app):
    from datetime import timedelta

    from kxflow.core.db import db
    from kxflow.reminders.operations import scan_due

    app_id = world.new_application()
    seated = world.to_expert_review(app_id)
    world.score(seated[0]["id"], world.name_of(seated[0]["expert_id"]))
    accepted = world.db_application(app_id).state_changed_at
    due = world.db_application(app_id).due_at  # the call's default review period: 14 working days
    with app.app_context():
        assert due == add_workdays(accepted, 14)
        three_before = subtract_workdays(due, 3)

    def reminded():
        rows = world.db_count(Notification, Notification.event == "expert_due")
        return rows

    for moment in (three_before - timedelta(minutes=1), three_before + timedelta(minutes=1)):
        world.travel(moment)
        with app.app_context():
            scan_due()
            db.session.remove()
    assert reminded() == 2  # the two who have not scored; the one who has is left alone
    names = {world.name_of(a["expert_id"]) for a in seated[1:]}
    for name in names:
        message = world.api("get", "/api/v1/notifications", name).json["items"][0]["message"]
        assert message.startswith("安吉县：请于 ") and "前完成评分，您尚未提交。" in message
    world.score(seated[1]["id"], world.name_of(seated[1]["expert_id"]))
    world.travel(due + timedelta(minutes=1))
    with app.app_context():
        scan_due()
        db.session.remove()
    assert reminded() == 3  # on the day: only the one still missing


def test_the_database_keeps_one_conflict_per_county_and_one_seat_per_expert(world, app):
    from sqlalchemy.exc import IntegrityError

    from kxflow.core.db import db

    app_id = world.new_application()
    world.to_ministry(app_id)
    expert = world.ids["expert_bj"]
    rows = [
        lambda: ExpertConflict(user_id=expert, county_code="330523"),
        lambda: ExpertConflict(user_id=expert, province_code="330000"),
        lambda: Assignment(application_id=app_id, expert_id=expert, assigned_by_id=world.ids["ministry"]),
    ]
    with app.app_context():
        for make in rows:
            db.session.add(make())
            db.session.commit()
            db.session.add(make())
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()
        db.session.add(ExpertConflict(user_id=expert, county_code="330521", province_code="330000"))
        with pytest.raises(IntegrityError):
            db.session.commit()  # one county or one province, not both
        db.session.rollback()
