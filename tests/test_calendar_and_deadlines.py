"""Working days on the official calendar, due dates on their rows, extensions, the call's close-out — with the
clock frozen inside known years and across the year boundary into one nobody has announced yet."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select, text

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.fields import CHINA
from kxflow.notifications.models import Notification
from kxflow.reminders.models import Reminder
from kxflow.reminders.operations import scan_due
from kxflow.workdays import calendar
from kxflow.workflow.models import AuditRecord
from tests.factories import build_world
from tests.test_reminders import received
from tests.web_support import Browser


def beijing(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def scan(app):
    with app.app_context():
        scan_due()
        db.session.remove()


def test_ten_working_days_across_national_day_land_on_the_right_date(app, client):
    clock.freeze(beijing(2026, 9, 28))  # Monday before 中秋 and 国庆 (Oct 1–7; Saturday Oct 10 is worked)
    world = build_world(app, client)
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    row = world.db_application(app_id)
    assert row.time_limit_at == beijing(2026, 10, 16)  # not Oct 8 (calendar days): 29, 30, 8, 9, 10, 12–16
    with app.app_context():
        assert calendar.add_workdays(beijing(2026, 9, 28), 3) == beijing(2026, 10, 8)
        assert calendar.is_workday(date(2026, 10, 10)) and not calendar.is_workday(date(2026, 10, 5))
        assert calendar.subtract_workdays(beijing(2026, 10, 8), 1) == beijing(2026, 9, 30)
    page = Browser(app, "zj_leader").text(f"/applications/{app_id}")
    assert "办理时限 2026年10月16日 10:00" in page


def test_the_year_boundary_and_a_year_nobody_has_announced(app, client):
    clock.freeze(beijing(2026, 12, 30))
    world = build_world(app, client)
    with app.app_context():
        # 2027 is past the packaged schedule: weekends only, and marked as such
        assert not calendar.announced(2027) and calendar.announced(2026)
        assert calendar.add_workdays(beijing(2026, 12, 31), 1) == beijing(2027, 1, 1)
        assert calendar.provisional(beijing(2027, 1, 1)) and not calendar.provisional(beijing(2026, 12, 31))
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    limit = world.db_application(app_id).time_limit_at
    assert limit == beijing(2027, 1, 13)  # 31 Dec, then 1–13 Jan without any holiday: 10 working days
    assert "节假日安排未公布" in Browser(app, "zj_leader").text(f"/applications/{app_id}")

    # the ministry enters 2027 as announced; what is computed from then on follows it
    ministry = Browser(app, "ministry")
    page = ministry.text("/holiday-schedule")
    assert "2027" in page and "尚未公布：仅按周末计算" in page
    bad = ministry.post_form(
        "/holiday-schedule", {"year": "2027", "holidays": "2027-01-01~2026-01-03 元旦", "workdays": "2027-01-05"}
    )
    assert bad.status_code == 422
    html = bad.data.decode()
    assert "第 1 行：日期范围无效" in html and "调休上班日应为周末：2027-01-05 为工作日。" in html
    with app.app_context():
        assert not calendar.announced(2027)
    r = ministry.post_form(
        "/holiday-schedule",
        {"year": "2027", "source": "国办发明电〔2026〕7号", "holidays": "2027-01-01~2027-01-03 元旦", "workdays": ""},
    )
    assert r.status_code == 302
    with app.app_context():
        assert calendar.announced(2027) and not calendar.provisional(beijing(2027, 1, 1))
        assert calendar.add_workdays(beijing(2026, 12, 31), 1) == beijing(2027, 1, 4)
    assert "科技部录入" in ministry.text("/holiday-schedule")
    assert Browser(app, "zj_reviewer").get("/holiday-schedule").status_code == 403


def test_a_reminder_due_on_a_sunday_goes_out_on_friday(app, client):
    clock.freeze(beijing(2026, 11, 2))
    world = build_world(app, client, county_deadline=beijing(2026, 11, 16, 17))  # a Monday
    with app.app_context():
        db.session.execute(text("UPDATE calls SET reminder_offsets_days = '[1]'"))
        db.session.commit()
    app_id = world.new_application()
    due = world.db_scalar(select(Reminder.due_at).where(Reminder.kind == "county_deadline"))
    assert due == beijing(2026, 11, 13, 17)  # Friday: one calendar day before would be Sunday the 15th
    world.travel(beijing(2026, 11, 13, 16, 59))
    scan(app)
    assert received(app, "county_deadline") == []
    world.travel(beijing(2026, 11, 13, 17, 1))
    scan(app)
    assert received(app, "county_deadline") == [("zj_staff", 1)]
    world.travel(beijing(2026, 11, 15, 17, 1))  # the Sunday: nothing more
    scan(app)
    assert len(received(app, "county_deadline")) == 1
    assert app_id


def test_an_extension_moves_the_due_date_and_replans_the_reminders(app, client):
    clock.freeze(beijing(2026, 11, 2))
    world = build_world(app, client, county_deadline=beijing(2026, 11, 20, 17))
    app_id = world.new_application()  # a draft: the province follows it up without opening it
    assert world.api("get", f"/api/v1/applications/{app_id}", "zj_reviewer").status_code == 404
    body = {"due_at": "2026-12-04T17:00:00", "reason": "县政府常务会议延后"}
    assert world.api("post", f"/api/v1/applications/{app_id}/extensions", "zj_staff", json=body).status_code == 403
    assert world.api("post", f"/api/v1/applications/{app_id}/extensions", "sc_reviewer", json=body).status_code == 404
    r = world.api("post", f"/api/v1/applications/{app_id}/extensions", "zj_reviewer", json={**body, "reason": " "})
    assert r.status_code == 422 and r.json["fields"]["reason"] == ["此项为必填项。"]
    r = world.api("post", f"/api/v1/applications/{app_id}/extensions", "zj_reviewer", json=body)
    assert r.status_code == 201, r.json
    assert world.db_application(app_id).due_at == beijing(2026, 12, 4, 17)
    with app.app_context():
        rows = db.session.scalars(
            select(Reminder).where(Reminder.application_id == app_id, Reminder.kind == "county_deadline")
        ).all()
        pending = sorted(r.due_at for r in rows if r.sent_at is None and r.cancelled_at is None)
        assert pending == [beijing(2026, 11, 25, 17), beijing(2026, 12, 1, 17), beijing(2026, 12, 3, 17)]  # 7, 3, 1
        assert all(r.cancelled_at is not None for r in rows if r.due_at < beijing(2026, 11, 21))
        record = db.session.scalar(select(AuditRecord).where(AuditRecord.trigger == "extend"))
        assert record.comment == "县政府常务会议延后" and record.actor.username == "zj_reviewer"
    messages = [n["message"] for n in world.api("get", "/api/v1/notifications", "zj_staff").json["items"]]
    assert any("延期至2026年12月4日 17:00" in m for m in messages)
    # the county may submit after the call's deadline, within its own date
    world.travel(beijing(2026, 11, 30))
    assert world.fire(app_id, "submit", "zj_staff").status_code == 200
    earlier = world.api(
        "post", f"/api/v1/applications/{app_id}/extensions", "zj_reviewer", json={**body, "due_at": "2026-12-01T17:00"}
    )
    assert earlier.status_code == 422 and "晚于" in earlier.json["fields"]["due_at"][0]


def test_close_out_marks_exactly_the_unsent_drafts_and_the_ministry_reopens(app, client):
    clock.freeze(beijing(2026, 11, 2))
    world = build_world(app, client, county_deadline=beijing(2026, 11, 20, 17))
    unsent = world.new_application("zj_staff")
    sent = world.new_application("zj2_staff")
    world.fire(sent, "submit", "zj2_staff")  # at county review: not a draft
    returned = world.new_application("sc_staff")
    world.walk(returned, ("submit", "sc_staff"), ("county_approve", "sc_leader"))
    world.travel(beijing(2026, 11, 23, 9))  # after the county deadline the province returns 大邑县's
    world.fire(returned, "province_return", "sc_reviewer", comment="请补充证明材料")
    grace = world.db_application(returned).due_at
    assert grace == beijing(2026, 11, 30, 9)  # the call's grace: 5 working days, not a dead end
    scan(app)
    flagged = {a: world.db_application(a).overdue_since is not None for a in (unsent, sent, returned)}
    assert flagged == {unsent: True, sent: False, returned: False}
    assert sorted(u for u, _ in received(app, "closeout")) == ["zj_leader", "zj_staff"]
    message = world.api("get", "/api/v1/notifications", "zj_staff").json["items"][0]["message"]
    assert "逾期未提交" in message
    r = world.fire(unsent, "submit", "zj_staff")
    assert r.status_code == 422 and "已过" in r.json["reasons"][0]
    follow = world.api("get", "/api/v1/applications/follow-up", "zj_reviewer").json
    # counted, not opened: 德清县's is with its leader, 安吉县's flagged
    assert [(f["county_name"], f["unsent"], f["flagged"]) for f in follow] == [("德清县", 1, 0), ("安吉县", 1, 1)]
    # the grace passes with 大邑县's still unsent: flagged then, not before
    world.travel(grace + timedelta(minutes=1))
    scan(app)
    assert world.db_application(returned).overdue_since is not None
    body = {"call_id": world.call_id, "province": "330000", "due_at": "2026-12-11T17:00", "reason": "系统故障"}
    assert world.api("post", "/api/v1/applications/reopen", "zj_reviewer", json=body).status_code == 403
    r = world.api("post", "/api/v1/applications/reopen", "ministry", json=body)
    assert r.status_code == 200 and [a["id"] for a in r.json] == [unsent]  # 浙江's only: 大邑县 stays flagged
    assert world.db_application(unsent).overdue_since is None
    assert world.fire(unsent, "submit", "zj_staff").status_code == 200
    assert world.db_application(returned).overdue_since is not None


def test_every_stage_shows_its_due_date(world, app):
    app_id = world.new_application()
    world.to_ministry(app_id)
    row = world.db_application(app_id)
    assert row.due_at == row.time_limit_at  # formal review: the ministry's own time limit
    page = Browser(app, "ministry").text("/tasks")
    assert "本环节无截止时间" not in page
    world.walk(app_id, ("ministry_accept", "ministry"))
    row = world.db_application(app_id)
    with app.app_context():
        assert row.due_at == calendar.add_workdays(row.state_changed_at, 14)  # the review period, working days
    assert world.api("get", f"/api/v1/applications/{app_id}", "ministry").json["due_at"]
    page = Browser(app, "ministry").text("/applications")
    assert "本环节无截止时间" not in page


@pytest.mark.parametrize("table", ["call_changes"])
def test_call_and_quota_edits_are_on_an_append_only_record(world, app, table):
    r = world.api("patch", f"/api/v1/calls/{world.call_id}", "ministry", json={"quota_overrides": {"330000": 4}})
    assert r.status_code == 200
    changes = world.api("get", f"/api/v1/calls/{world.call_id}/changes", "ministry").json
    assert [c["action"] for c in changes] == ["create", "update"]
    assert changes[1]["changes"] == {"quota_overrides": [{}, {"330000": 4}]}
    assert world.api("get", f"/api/v1/calls/{world.call_id}/changes", "zj_reviewer").status_code == 403
    with app.app_context():
        for statement in (f"UPDATE {table} SET action = 'close'", f"DELETE FROM {table}"):
            # refused to the app's own connection: its role's rights (PostgreSQL), its guard (SQLite), the trigger
            with (
                pytest.raises(Exception, match="append-only|permission denied|not authorized"),
                db.engine.begin() as conn,
            ):
                conn.execute(text(statement))


def test_reminders_and_inspection_days_skip_rest_days(app, client):
    clock.freeze(beijing(2026, 9, 21))
    world = build_world(app, client)
    app_id = world.new_application()
    world.db_state(app_id, "expert_review")
    body = {"scheduled_on": "2026-10-05", "place": "安吉县", "team": [world.ids["expert_bj"]]}  # 国庆
    r = world.api("post", f"/api/v1/applications/{app_id}/inspections", "ministry", json=body)
    assert r.status_code == 422
    assert r.json["fields"]["scheduled_on"] == [
        "2026年10月5日为休息日（周末或法定节假日）。如确需当日考察，请勾选确认。"
    ]
    r = world.api(
        "post", f"/api/v1/applications/{app_id}/inspections", "ministry", json={**body, "scheduled_on": "2026-10-09"}
    )
    assert r.status_code == 201
    with app.app_context():
        dues = sorted(
            r.due_at.astimezone(CHINA).date()
            for r in db.session.scalars(select(Reminder).where(Reminder.kind == "inspection_soon"))
        )
    # 7 and 1 working days before Friday 9 October: back over 国庆 and 中秋 (25–27 September)
    assert dues == [date(2026, 9, 22), date(2026, 10, 8)]
    assert world.db_count(Notification) > 0


def test_dates_stay_on_the_hour_and_minute(app):
    with app.app_context():
        assert calendar.add_workdays(beijing(2026, 2, 13, 18, 30), 1) == beijing(2026, 2, 14, 18, 30)  # 调休 Saturday
        assert calendar.on_workday_before(beijing(2026, 2, 18, 9)) == beijing(
            2026, 2, 14, 9
        )  # 春节 → the Saturday worked
        assert calendar.workdays_between(date(2026, 9, 28), date(2026, 10, 16)) == 10
        assert datetime.combine(date(2026, 1, 1), time(0), tzinfo=CHINA) < beijing(2026, 1, 1, 10)


def test_a_call_closes_once_every_application_is_decided_and_then_stays_as_it_is(world):
    app_id = world.new_application()
    world.to_ministry(app_id)
    r = world.api("post", f"/api/v1/calls/{world.call_id}/close", "ministry")
    assert r.status_code == 409 and r.json["error"] == "该批次尚有 1 项申报未作出决定。"
    assert world.api("post", f"/api/v1/calls/{world.call_id}/close", "zj_reviewer").status_code == 403
    world.walk(app_id, ("ministry_reject", "ministry"))
    r = world.api("post", f"/api/v1/calls/{world.call_id}/close", "ministry")
    assert r.status_code == 200 and r.json["closed_at"]
    r = world.api("patch", f"/api/v1/calls/{world.call_id}", "ministry", json={"province_quota": 9})
    assert r.status_code == 409 and r.json["error"] == "该批次已关闭，数据不再变动。"
    actions = [c["action"] for c in world.api("get", f"/api/v1/calls/{world.call_id}/changes", "ministry").json]
    assert actions == ["create", "close"]
