"""Life after designation: a re-check graded 不达标 leads to rectification with a deadline, then a
passing re-check or revocation; the public roll; and the full walk draft → designated → revoked."""

from __future__ import annotations

from datetime import datetime, timedelta

from kxflow.core import clock
from kxflow.core.fields import CHINA


def designate(world, app_id):
    world.to_publicity(app_id)
    world.travel(world.db_application(app_id).publicity_ends_at + timedelta(minutes=1))
    world.walk(app_id, ("designate", "ministry"))


def recheck(world, app_id, result, team=("expert_js",)):
    inspection_id = world.set_inspection(app_id, kind="recheck", team=team)
    r = world.report(inspection_id, user=team[0], result=result)
    assert r.status_code == 200, r.json
    return inspection_id


def test_full_walk_draft_to_designated_to_revoked_through_the_api(world):
    app_id = world.new_application()
    world.to_ministry(app_id)
    world.walk(app_id, ("ministry_accept", "ministry"))  # formal review first; the panel is formed after
    panel = world.seat_panel(app_id)
    for assignment, fraction in zip(panel, (0.9, 0.8, 0.85), strict=True):
        assert world.score(assignment["id"], world.name_of(assignment["expert_id"]), fraction).status_code == 200
    inspection_id = world.set_inspection(app_id, team=("expert_bj", "ministry"))
    world.walk(app_id, ("schedule_inspection", "ministry"))
    r = world.fire(app_id, "pass_inspection", "ministry")
    assert r.status_code == 422 and r.json["reasons"] == ["尚未记录实地考察报告。"]
    import io

    from tests.files import PDF

    world.to_inspection_day(inspection_id)  # a report is recorded from the inspection day on
    r = world.api(
        "post",
        f"/api/v1/inspections/{inspection_id}/report",
        "expert_bj",
        data={
            "findings": "平台运行良好，数据属实。",
            "recommendation": "pass",
            "files": [(io.BytesIO(PDF), "考察记录.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and r.json["report"]["recommendation"] == "pass" and len(r.json["files"]) == 1
    file_id = r.json["files"][0]["id"]
    assert world.api("get", f"/api/v1/inspections/{inspection_id}/files/{file_id}", "ministry").data == PDF
    world.walk(app_id, ("pass_inspection", "ministry"))
    assert [n["county"] for n in world.api("get", "/api/v1/public/notices").json] == ["安吉县"]
    world.travel(world.db_application(app_id).publicity_ends_at + timedelta(hours=1))
    world.walk(app_id, ("designate", "ministry"))
    roll = world.api("get", "/api/v1/public/demonstration-counties").json
    assert [(c["county"], c["state"], c["revoked_at"]) for c in roll] == [("安吉县", "designated", None)]
    assert world.api("get", "/api/v1/public/notices").json == []

    # three years on, the re-check fails: rectification with the default year, then revocation
    world.travel(clock.now() + timedelta(days=3 * 365))
    assert world.fire(app_id, "fail_recheck", "ministry").json["reasons"] == ["只有复查结论为不达标时才能责令整改。"]
    recheck(world, app_id, "unsatisfactory")
    r = world.fire(app_id, "fail_recheck", "ministry", comment="科技投入连续下降")
    assert r.status_code == 200 and r.json["state"] == "rectification"
    app = world.api("get", f"/api/v1/applications/{app_id}", "zj_staff").json
    due = datetime.fromisoformat(app["rectification_due"])
    assert due == datetime.fromisoformat(app["state_changed_at"]) + timedelta(days=365)
    r = world.fire(app_id, "revoke", "ministry")
    assert r.status_code == 422 and r.json["reasons"] == ["此操作须填写意见（理由）。"]
    r = world.fire(app_id, "revoke", "ministry", comment="整改期满仍未达标")
    assert r.status_code == 200 and r.json["state"] == "revoked" and r.json["allowed_triggers"] == []
    roll = world.api("get", "/api/v1/public/demonstration-counties").json
    assert roll[0]["state"] == "revoked" and roll[0]["revoked_at"] and roll[0]["designated_at"]
    history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
    assert [h["trigger"] for h in history] == [
        "submit",
        "county_approve",
        "province_recommend",
        "ministry_accept",
        *["panel_seat"] * 3,  # the panel, seat by seat, and each expert's scores are on the timeline
        *["score"] * 3,
        "schedule_inspection",
        "pass_inspection",
        "designate",
        "fail_recheck",
        "revoke",
    ]
    # the county was told each outcome
    messages = " ".join(
        n["message"] for n in world.api("get", "/api/v1/notifications?per_page=50", "zj_staff").json["items"]
    )
    assert "已撤销（摘牌）" in messages and "整改" in messages and "已命名" in messages


def test_rectified_county_passes_its_recheck_with_a_chosen_deadline(world):
    app_id = world.new_application()
    designate(world, app_id)
    recheck(world, app_id, "unsatisfactory")
    past = (clock.now() - timedelta(days=1)).isoformat()
    assert world.fire(app_id, "fail_recheck", "ministry", deadline=past).status_code == 422
    deadline = datetime(clock.now().year + 1, 6, 30, 17, 0, tzinfo=CHINA)
    r = world.fire(app_id, "fail_recheck", "ministry", deadline=deadline.isoformat())
    assert r.status_code == 200
    assert world.db_application(app_id).rectification_due == deadline
    # the failing re-check does not count again: a new one after rectification must pass
    r = world.fire(app_id, "pass_recheck", "ministry")
    assert r.status_code == 422 and r.json["reasons"] == ["请先记录整改后的复查结论（优秀或达标）。"]
    world.travel(clock.now() + timedelta(days=30))
    recheck(world, app_id, "satisfactory", team=("expert_hb",))
    r = world.fire(app_id, "pass_recheck", "ministry")
    assert r.status_code == 200 and r.json["state"] == "designated"
    assert world.db_application(app_id).rectification_due is None


def test_report_is_validated_and_only_the_team_or_ministry_writes_it(world):
    app_id = world.new_application()
    designate(world, app_id)
    inspection_id = world.set_inspection(app_id, kind="recheck", team=("expert_js",))
    r = world.report(inspection_id, user="expert_js", findings=" ", result="great")
    assert r.status_code == 422 and set(r.json["fields"]) == {"result"}  # the schema refuses first
    r = world.report(inspection_id, user="expert_js", findings=" ", recommendation="pass")
    assert r.status_code == 422 and set(r.json["fields"]) == {"findings", "result"}
    assert world.report(inspection_id, user="expert_hb", result="excellent").status_code == 404
    assert world.report(inspection_id, user="zj_staff", result="excellent").status_code == 403
    assert world.report(inspection_id, user="expert_js", result="excellent").status_code == 200


def test_a_designated_county_shows_its_next_recheck(world, app):
    from tests.web_support import Browser

    app_id = world.new_application()
    designate(world, app_id)
    designated = world.db_application(app_id).designated_at.astimezone(CHINA).date()
    page = Browser(app, "zj_staff").text(f"/applications/{app_id}")
    assert f"下次复查: {designated.year + 3}年{designated.month}月{designated.day}日" in page.replace("：", ": ")


def test_the_recheck_cycle_survives_29_february():
    from datetime import date

    from kxflow.inspections.operations import recheck_due

    leap = datetime(2024, 2, 29, 9, 0, tzinfo=CHINA)
    assert recheck_due(leap, 3, date(2026, 1, 1)) == date(2027, 2, 28)
    assert recheck_due(leap, 3, date(2031, 6, 1)) == date(2030, 2, 28)  # the cycle in progress
