"""Inspection schedules: told at once, reminded 7 and 1 days before, prompted daily after a date with no
report; re-checks of designated counties planned so that no team has two counties on one day."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update

from kxflow.accounts.operations import create_user
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.inspections.models import Inspection, InspectionMember
from kxflow.notifications.models import Notification
from kxflow.reminders.operations import scan_due
from kxflow.workdays.calendar import is_workday, subtract_workdays
from kxflow.workflow.models import Application
from tests.factories import PASSWORD, bulk_ready_applications
from tests.test_reminders import received


def add_experts(world, *names):
    """Experts from 北京: no conflict with the counties of 浙江 or 四川 these tests inspect."""
    with world.app.app_context():
        for name in names:
            world.ids[name] = create_user(
                username=name, password=PASSWORD, role="expert", province_code="110000", email=f"{name}@example.gov.cn"
            ).id
        db.session.commit()


def today():
    return clock.now().astimezone(CHINA).date()


def at_nine(day):
    return datetime.combine(day, time(9, 1), tzinfo=CHINA)


def working_stretch(app, after_days: int, length: int = 3):
    """The first day at least ``after_days`` ahead that begins ``length`` working days in a row."""
    with app.app_context():
        day = today() + timedelta(days=after_days)
        while not all(is_workday(day + timedelta(days=k)) for k in range(length)):
            day += timedelta(days=1)
        return day


def scan(app):
    with app.app_context():
        scan_due()
        db.session.remove()


def test_setting_an_inspection_tells_county_and_team_and_reminds_them(world, app):
    add_experts(world, "insp_a", "insp_b")
    app_id = world.new_application()
    world.db_state(app_id, "expert_review")
    day = working_stretch(app, 20)
    body = {
        "scheduled_on": day.isoformat(),
        "place": "安吉县科技局会议室",
        "team": [world.ids["insp_a"], world.ids["insp_b"]],
    }
    assert world.api("post", f"/api/v1/applications/{app_id}/inspections", "zj_reviewer", json=body).status_code == 403
    r = world.api("post", f"/api/v1/applications/{app_id}/inspections", "ministry", json=body)
    assert r.status_code == 201, r.json
    inspection_id = r.json["id"]
    assert sorted(u for u, _ in received(app, "inspection_scheduled")) == ["insp_a", "insp_b", "zj_leader", "zj_staff"]
    message = world.api("get", "/api/v1/notifications", "insp_a").json["items"][0]["message"]
    assert "安吉县" in message and "安吉县科技局会议室" in message and f"{day.month}月{day.day}日" in message
    assert [i["id"] for i in world.api("get", "/api/v1/inspections", "insp_b").json] == [inspection_id]
    assert [i["id"] for i in world.api("get", "/api/v1/inspections", "zj_staff").json] == [inspection_id]
    assert world.api("get", "/api/v1/inspections", "sc_staff").json == []
    kinds = {x["kind"] for x in world.api("get", "/api/v1/reminders/upcoming", "insp_a").json}
    assert kinds == {"inspection_soon"}

    for days in (7, 1):  # working days before: never on a rest day
        with app.app_context():
            world.travel(subtract_workdays(at_nine(day), days))
        scan(app)
        scan(app)
    soon = received(app, "inspection_soon")
    assert sorted(soon) == sorted([(u, d) for d in (7, 1) for u in ("zj_staff", "zj_leader", "insp_a", "insp_b")])

    # the date passes with no report: ministry staff are prompted every morning until it is in
    world.travel(at_nine(day + timedelta(days=1)))
    scan(app)
    world.travel(at_nine(day + timedelta(days=2)))
    scan(app)
    assert received(app, "inspection_overdue") == [("ministry", 1), ("ministry", 2)]
    report = {"findings": "现场核查属实", "recommendation": "pass"}
    assert world.api("post", f"/api/v1/inspections/{inspection_id}/report", "zj_staff", data=report).status_code == 403
    assert world.api("post", f"/api/v1/inspections/{inspection_id}/report", "insp_b", data=report).status_code == 200
    world.travel(at_nine(day + timedelta(days=3)))
    scan(app)
    assert len(received(app, "inspection_overdue")) == 2


def test_an_inspection_is_refused_with_every_reason(world, app):
    add_experts(world, "insp_a")
    first = world.new_application("zj_staff")
    second = world.new_application("sc_staff")
    world.db_state(first, "expert_review")
    world.db_state(second, "expert_review")
    day = working_stretch(app, 5, 1)
    ok = {"scheduled_on": day.isoformat(), "place": "现场", "team": [world.ids["insp_a"]]}
    assert world.api("post", f"/api/v1/applications/{first}/inspections", "ministry", json=ok).status_code == 201
    r = world.api("post", f"/api/v1/applications/{second}/inspections", "ministry", json=ok)
    assert r.status_code == 422 and r.json["fields"]["team"] == ["当天已有其他考察任务：insp_a。"]
    bad = {"scheduled_on": (today() - timedelta(days=1)).isoformat(), "place": " ", "team": [world.ids["zj_staff"]]}
    r = world.api("post", f"/api/v1/applications/{second}/inspections", "ministry", json=bad)
    assert r.status_code == 422 and set(r.json["fields"]) == {"scheduled_on", "place", "team"}
    with app.app_context():
        assert db.session.scalar(select(func.count(Inspection.id))) == 1


def test_rechecks_are_spread_so_no_team_has_two_counties_on_one_day(world, app):
    add_experts(world, "e1", "e2", "e3")
    ready = bulk_ready_applications(world, 4)
    designated_on = clock.now() - timedelta(days=3 * 365 + 1)
    with app.app_context():
        db.session.execute(
            update(Application)
            .where(Application.id.in_([a for a, _ in ready]))
            .values(state="designated", designated_at=designated_on)
        )
        db.session.commit()
    teams = [[world.ids["e1"], world.ids["e2"]], [world.ids["e3"]]]
    body = {"years": 3, "teams": teams, "start_on": today().isoformat(), "horizon_days": 60}
    r = world.api("post", "/api/v1/rechecks/plan", "ministry", json=body)
    assert r.status_code == 201, r.json
    plan = r.json
    assert sorted(i["application_id"] for i in plan) == sorted(a for a, _ in ready)  # each county once
    by_day: dict[str, list] = {}
    for item in plan:
        by_day.setdefault(item["scheduled_on"], []).append(item["team"])
    assert list(by_day.values()) == [teams, teams]  # two a day, one per team: two days for four counties
    with app.app_context():  # and the database holds it: nobody twice on one day
        pairs = db.session.execute(select(InspectionMember.user_id, InspectionMember.scheduled_on)).all()
        assert len(pairs) == len(set(pairs)) == 6
        announced = db.session.scalar(
            select(func.count(Notification.id)).where(Notification.event == "inspection_scheduled")
        )
        assert announced == 4 * 2 + 2 * 2 + 2 * 1  # each county's clerk and leader, and the team members
    again = world.api("post", "/api/v1/rechecks/plan", "ministry", json=body)
    assert again.status_code == 201 and again.json == []  # planned already: nothing doubled
    assert world.api("post", "/api/v1/rechecks/plan", "zj_reviewer", json=body).status_code == 403


def test_upcoming_reminders_of_a_holder(world):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    kinds = sorted(r["kind"] for r in world.api("get", "/api/v1/reminders/upcoming", "zj_leader").json)
    assert kinds == ["county_deadline", "county_deadline", "county_deadline", "sla"]
    assert world.api("get", "/api/v1/reminders/upcoming", "zj_staff").json == []  # not the clerk's to do now
    escalations = [r["kind"] for r in world.api("get", "/api/v1/reminders/upcoming", "zj_reviewer").json]
    assert escalations == ["escalation"]


def test_schedule_page_and_delivery_log(world, app, smtp_sink, monkeypatch):
    from kxflow.notifications.dispatch import dispatch_due
    from tests.web_support import Browser

    add_experts(world, "insp_a")
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    world.db_state(app_id, "expert_review")
    day = working_stretch(app, 12, 1)
    body = {"scheduled_on": day.isoformat(), "place": "安吉县", "team": [world.ids["insp_a"]]}
    assert world.api("post", f"/api/v1/applications/{app_id}/inspections", "ministry", json=body).status_code == 201
    page = Browser(app, "insp_a").text("/schedule")
    assert "安吉县" in page and "实地考察" in page and "即将考察" in page and "提前 7 个工作日" in page
    assert "县级截止时间" in Browser(app, "zj_leader").text("/schedule")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    with app.app_context():
        dispatch_due()
        db.session.remove()
    detail = Browser(app, "ministry").text(f"/applications/{app_id}")
    assert "邮件投递记录" in detail and "zj_leader" in detail and "已发送" in detail
    assert "邮件投递记录" not in Browser(app, "zj_staff").text(f"/applications/{app_id}")
