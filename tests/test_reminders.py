"""Deadline reminders, waiting-time reminders and escalation, 催办 — with the clock moved, not slept through."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kxflow.accounts.models import User
from kxflow.calls.models import Call
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.notifications.models import Notification
from kxflow.reminders.models import Reminder
from kxflow.reminders.operations import scan_due
from kxflow.workdays.calendar import add_workdays
from tests.factories import build_world
from tests.web_support import Browser


def scan(app) -> int | None:
    with app.app_context():
        written = scan_due()
        db.session.remove()
        return written


def received(app, event: str) -> list[tuple[str, int | None]]:
    """(recipient, offset) of every notification of this kind, in order."""
    with app.app_context():
        rows = db.session.execute(
            select(User.username, Notification.params)
            .join(User, User.id == Notification.recipient_id)
            .where(Notification.event == event)
            .order_by(Notification.id)
        ).all()
        return [(username, params.get("offset_days")) for username, params in rows]


def deadline(app) -> tuple:
    with app.app_context():
        call = db.session.scalar(select(Call))
        return call.county_deadline, call.province_deadline


def test_county_deadline_reminders_at_7_3_1_days_go_to_exactly_the_holders(world, app):
    drafting = world.new_application("zj_staff")  # the clerk holds it
    waiting = world.new_application("zj2_staff")
    world.fire(waiting, "submit", "zj2_staff")  # the 德清 leader holds it
    done = world.new_application("sc_staff")
    world.walk(done, ("submit", "sc_staff"), ("county_approve", "sc_leader"))  # past the county level
    county_deadline, _ = deadline(app)
    for days in (7, 3, 1):
        world.travel(county_deadline - timedelta(days=days) + timedelta(minutes=1))
        scan(app)
        scan(app)  # a second scan at the same moment sends nothing more
    assert received(app, "county_deadline") == [
        ("zj_staff", 7),
        ("zj2_leader", 7),
        ("zj_staff", 3),
        ("zj2_leader", 3),
        ("zj_staff", 1),
        ("zj2_leader", 1),
    ]
    messages = [n["message"] for n in world.api("get", "/api/v1/notifications", "zj_staff").json["items"]]
    assert any("安吉县：距截止时间还有 1 个工作日" in m for m in messages), messages
    assert drafting


def test_finishing_the_work_cancels_the_pending_reminders(world, app):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    county_deadline, _ = deadline(app)
    world.travel(county_deadline - timedelta(days=7) + timedelta(minutes=1))
    scan(app)
    world.fire(app_id, "county_approve", "zj_leader")  # the leader acts before the 3-day reminder
    world.travel(county_deadline - timedelta(hours=1))
    scan(app)
    assert received(app, "county_deadline") == [("zj_leader", 7)]
    with app.app_context():
        pending_for_county = db.session.scalars(
            select(Reminder).where(
                Reminder.application_id == app_id, Reminder.kind == "county_deadline", Reminder.state == "county_review"
            )
        ).all()
        assert {(r.offset_days, r.sent_at is not None, r.cancelled_at is not None) for r in pending_for_county} == {
            (7, True, False),
            (3, False, True),
            (1, False, True),
        }


def test_waiting_too_long_reminds_the_holder_then_tells_the_level_above(app, client):
    world = build_world(app, client)  # county level limit 10 working days, grace 5 working days
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    start = world.db_application(app_id).state_changed_at
    limit = world.db_application(app_id).time_limit_at  # stored on the row: 10 working days on
    with app.app_context():
        assert limit == add_workdays(start, 10) and limit - start > timedelta(days=10)  # weekends do not count
        escalation_at = add_workdays(limit, 5)
    world.travel(limit - timedelta(minutes=1))
    scan(app)
    assert received(app, "sla") == []
    world.travel(limit + timedelta(minutes=1))
    scan(app)
    assert received(app, "sla") == [("zj_leader", 10)]
    assert received(app, "escalation") == []
    page = Browser(app, "zj_leader").text("/tasks")
    assert "超过办理时限" in page or "waiting past" in page
    world.travel(escalation_at + timedelta(minutes=1))
    scan(app)
    assert received(app, "escalation") == [("zj_reviewer", 10)]  # the province, not another province
    message = world.api("get", "/api/v1/notifications", "zj_reviewer").json["items"][0]["message"]
    assert "安吉县" in message and "超期" in message


def test_no_escalation_once_the_leader_acted(world, app):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    limit = world.db_application(app_id).time_limit_at
    world.travel(limit + timedelta(hours=1))
    scan(app)
    world.fire(app_id, "county_approve", "zj_leader")
    world.travel(limit + timedelta(days=10))  # past the county's grace, inside the province's own limit
    scan(app)
    assert received(app, "escalation") == []


def test_press_for_action(world, app):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    assert world.api("post", f"/api/v1/applications/{app_id}/press", "zj_staff", json={}).status_code == 403
    assert world.api("post", f"/api/v1/applications/{app_id}/press", "sc_reviewer", json={}).status_code == 404
    r = world.api("post", f"/api/v1/applications/{app_id}/press", "zj_reviewer", json={"comment": "请尽快审核"})
    assert r.status_code == 201
    assert received(app, "press") == [("zj_leader", None)]  # at once, not at the next scan
    message = world.api("get", "/api/v1/notifications", "zj_leader").json["items"][0]["message"]
    assert "催办" in message and "安吉县" in message
    again = world.api("post", f"/api/v1/applications/{app_id}/press", "ministry", json={})
    assert again.status_code == 409 and again.json["error"] == "该申报今天已催办过。"
    history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
    assert history[-1] | {"at": None} == {
        "trigger": "press",
        "from_state": "county_review",
        "to_state": "county_review",
        "actor": "zj_reviewer",
        "actor_role": "province_reviewer",
        "comment": "请尽快审核",
        "revision_round": 0,
        "at": None,
    }
    world.travel(clock.now() + timedelta(days=1))
    assert world.api("post", f"/api/v1/applications/{app_id}/press", "ministry", json={}).status_code == 201
    assert len(received(app, "press")) == 2


def test_press_from_the_page(world, app):
    # the province does not open what the county has not sent it: it presses from its follow-up list
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    b = Browser(app, "zj_reviewer")
    assert b.get(f"/applications/{app_id}").status_code == 404
    assert "催办" in b.text("/tasks")
    r = b.post_form(f"/applications/{app_id}/press", {"next": "tasks"}, page="/tasks", follow_redirects=True)
    assert "已提醒当前办理人。" in r.data.decode()
    assert "催办" in Browser(app, "zj_staff").text(f"/applications/{app_id}")  # in the timeline
