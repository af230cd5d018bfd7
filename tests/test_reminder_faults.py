"""Faults that hold nothing up: a reminder whose sending raises is counted, tried again later with a growing
wait, and given up where ministry staff see it — while every other reminder goes out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from kxflow.core import clock
from kxflow.core.db import db
from kxflow.notifications.models import Notification
from kxflow.reminders import operations as reminders
from kxflow.reminders.models import Reminder
from tests.test_reminders import deadline, received, scan
from tests.web_support import Browser


def the_reminder(app, app_id: int, offset: int) -> Reminder:
    with app.app_context():
        row = db.session.scalar(
            select(Reminder).where(
                Reminder.application_id == app_id, Reminder.kind == "county_deadline", Reminder.offset_days == offset
            )
        )
        db.session.expunge_all()
        return row


def test_a_reminder_that_raises_holds_up_none_of_the_others_and_is_given_up_visibly(world, app, monkeypatch):
    poisoned = world.new_application("zj_staff")  # 安吉县: its reminders are planned first, so scanned first
    waiting = world.new_application("zj2_staff")
    world.fire(waiting, "submit", "zj2_staff")
    third = world.new_application("sc_staff")
    real = reminders.HANDLERS["county_deadline"]

    def send_then_raise(reminder: Reminder) -> int:
        written = real.send(reminder)  # its notification is written, then the handling fails: none may be kept
        if reminder.application_id == poisoned:
            raise RuntimeError("模拟故障：提醒无法生成")
        return written

    monkeypatch.setitem(reminders.HANDLERS, "county_deadline", reminders.KindHandler(send_then_raise, real.reaches))
    county_deadline, _ = deadline(app)
    world.travel(county_deadline - timedelta(days=7) + timedelta(minutes=1))
    scan(app)
    # the two others went out although the poisoned one comes first in the scan's order
    assert sorted(received(app, "county_deadline")) == [("sc_staff", 7), ("zj2_leader", 7)]
    first = the_reminder(app, poisoned, 7)
    base = app.config["REMINDER_RETRY_BASE_SECONDS"]
    assert (first.attempts, first.sent_at, first.failed_at) == (1, None, None)
    assert "RuntimeError" in first.last_error and "模拟故障" in first.last_error
    assert first.next_attempt_at == clock.now() + timedelta(seconds=base)
    with app.app_context():  # nothing of the failed attempt was kept: no notification for 安吉县's clerk
        assert (
            db.session.scalar(select(Notification.id).where(Notification.dedupe_key.like(f"reminder:{first.id}:%")))
            is None
        )

    scan(app)  # a second scan at once: it waits out its backoff, the others are not sent twice
    assert the_reminder(app, poisoned, 7).attempts == 1
    assert sorted(received(app, "county_deadline")) == [("sc_staff", 7), ("zj2_leader", 7)]

    limit = app.config["REMINDER_MAX_ATTEMPTS"]
    waits = []
    for attempt in range(2, limit + 1):
        before = the_reminder(app, poisoned, 7)
        world.travel(before.next_attempt_at - timedelta(seconds=1))
        scan(app)
        assert the_reminder(app, poisoned, 7).attempts == attempt - 1  # not before its time
        world.travel(before.next_attempt_at)
        scan(app)
        after = the_reminder(app, poisoned, 7)
        assert after.attempts == attempt
        if after.next_attempt_at is not None:
            waits.append((after.next_attempt_at - clock.now()).total_seconds())
    assert waits == [base * 2 ** (n - 1) for n in range(2, limit)]  # exponential
    gave_up = the_reminder(app, poisoned, 7)
    assert gave_up.failed_at is not None and gave_up.next_attempt_at is None and gave_up.sent_at is None
    world.travel(clock.now() + timedelta(days=1))
    scan(app)
    assert the_reminder(app, poisoned, 7).attempts == limit  # given up: never tried again
    assert ("zj_staff", 7) not in received(app, "county_deadline")

    page = Browser(app, "ministry").text("/schedule")
    assert "无法发送的提醒" in page and "安吉县" in page and "模拟故障" in page and "已放弃" in page
    for other in ("zj_leader", "zj_staff"):  # the list of failures is ministry staff's alone
        assert "无法发送的提醒" not in Browser(app, other).text("/schedule")
    assert third


def test_backoff_is_bounded(app):
    with app.app_context():
        assert reminders._backoff(1) == timedelta(seconds=app.config["REMINDER_RETRY_BASE_SECONDS"])
        assert reminders._backoff(40) == timedelta(hours=6)
