"""In-app notifications: whoever must act next is told, in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import select

from kxflow.accounts.operations import create_user
from kxflow.core.db import db
from kxflow.notifications.models import Notification


def inbox(world, user, lang="zh"):
    return world.api("get", "/api/v1/notifications", user, headers={"Accept-Language": lang}).json


def test_each_step_tells_exactly_the_next_holder(world, app):
    with app.app_context():  # a second leader in 安吉县, and an inactive one who must not be told
        create_user(username="zj_leader_b", password="long-enough-1", role="county_leader", county_code="330523")
        off = create_user(
            username="zj_leader_off", password="long-enough-1", role="county_leader", county_code="330523"
        )
        off.active = False
        db.session.commit()
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    with app.app_context():
        rows = db.session.scalars(select(Notification).order_by(Notification.recipient_id)).all()
        recipients = {world_user(app, r.recipient_id): r.kind for r in rows}
    assert recipients == {"zj_leader": "action_required", "zj_leader_b": "action_required"}
    assert inbox(world, "zj2_leader")["total"] == 0 and inbox(world, "zj_staff")["total"] == 0  # not the actor

    world.fire(app_id, "county_approve", "zj_leader")
    assert inbox(world, "zj_reviewer")["items"][0]["kind"] == "action_required"
    assert inbox(world, "sc_reviewer")["total"] == 0
    assert inbox(world, "zj_staff")["items"][0]["kind"] == "info"

    world.fire(app_id, "province_recommend", "zj_reviewer")
    assert (
        inbox(world, "ministry")["items"][0]["message"]
        == "安吉县的申报已省级推荐，现处于“部级形式审查”环节，请您办理。"
    )
    assert inbox(world, "ministry", "en")["items"][0]["message"] == (
        "安吉县: application Recommend (province), now at Ministry formal review — your action is needed."
    )


def world_user(app, user_id):
    from kxflow.accounts.models import User

    return db.session.get(User, user_id).username


def test_returned_application_goes_back_to_the_clerk(world):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    world.fire(app_id, "province_return", "zj_reviewer", comment="补充材料")
    latest = inbox(world, "zj_staff")["items"][0]
    assert latest["kind"] == "action_required" and "草稿" in latest["message"] and latest["application_id"] == app_id


def test_mark_read_only_mine(world):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    item = inbox(world, "zj_leader")["items"][0]
    assert world.api("post", f"/api/v1/notifications/{item['id']}/read", "zj2_leader").status_code == 404
    r = world.api("post", f"/api/v1/notifications/{item['id']}/read", "zj_leader")
    assert r.status_code == 200 and r.json["read"] is True
    assert inbox(world, "zj_leader")["unread"] == 0
    assert world.api("get", "/api/v1/notifications?unread=true", "zj_leader").json["items"] == []


def test_every_notification_has_a_dedupe_key_for_exactly_once_dispatch(world, app):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    with app.app_context():
        rows = db.session.scalars(select(Notification)).all()
        keys = [r.dedupe_key for r in rows]
        assert len(keys) == len(set(keys)) == 3
        assert all(r.dispatched_at is None for r in rows)
        assert {r.email for r in rows} == {True, False}  # action requests are e-mailed, info is not
