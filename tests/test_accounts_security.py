"""Accounts, sessions and the second factor in detail (findings 2, 4, 6, 7, 9, 14): what a user sees and what the
security log records."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text

from kxflow import create_app
from kxflow.accounts import passwords
from kxflow.accounts.models import ApiToken, User
from kxflow.accounts.operations import change_own_password, end_sessions_of
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.workflow.models import Application
from tests.factories import PASSWORD
from tests.web_support import Browser, csrf_token
from tests.workers_support import REDIS_TEST_DB


def events(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(text("SELECT event, user_id, username, target_user_id FROM security_events")).all()


def enrol(app, username: str) -> tuple[Browser, str, list[str]]:
    web = Browser(app, username)
    page = web.text("/account/2fa")
    secret = page.split('class="secret">')[1].split("<")[0]
    r = web.client.post(
        "/account/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(page)}, headers=web.headers
    )
    codes = [c.split("</code>")[0] for c in r.data.decode().split("<li><code>")[1:]]
    assert len(codes) == 10
    return web, secret, codes


def login_with_code(app, username: str, code: str):
    web = Browser(app)
    r = web.post_form("/login", {"username": username, "password": PASSWORD}, page="/login")
    assert r.headers["Location"].endswith("/login/otp")
    return web, web.post_form("/login/otp", {"code": code})


def test_totp_login_codes_work_once_and_recovery_codes_once(world, app):
    _, secret, codes = enrol(app, "zj_reviewer")
    # the enrolment code itself cannot be replayed; the next time step's code logs in once
    clock.freeze(clock.now() + timedelta(seconds=30))
    code = pyotp.TOTP(secret).at(clock.now())
    web, r = login_with_code(app, "zj_reviewer", code)
    assert r.status_code == 302 and web.get("/tasks").status_code == 200
    _, again = login_with_code(app, "zj_reviewer", code)
    assert again.status_code == 401 and "验证码不正确或已使用过" in again.data.decode()
    _, r = login_with_code(app, "zj_reviewer", codes[0])
    assert r.status_code == 302
    _, r = login_with_code(app, "zj_reviewer", codes[0])
    assert r.status_code == 401
    assert {e[0] for e in events(app)} >= {"mfa_enrolled", "mfa_failed", "recovery_code_used", "login_ok"}


def test_the_token_endpoint_takes_the_code_as_otp(world, app):
    _, secret, _ = enrol(app, "zj_reviewer")
    clock.freeze(clock.now() + timedelta(seconds=30))
    body = {"username": "zj_reviewer", "password": PASSWORD}
    assert world.client.post("/api/v1/tokens", json={**body, "otp": "000000"}).status_code == 401
    r = world.client.post("/api/v1/tokens", json={**body, "otp": pyotp.TOTP(secret).at(clock.now())})
    assert r.status_code == 201 and r.json["token"]


def test_roles_named_by_the_setting_must_enrol_before_anything_else(world, app, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED_ROLES", frozenset({"ministry_staff"}))
    web = Browser(app)
    r = web.post_form("/login", {"username": "ministry", "password": PASSWORD}, page="/login")
    assert r.headers["Location"].endswith("/account/2fa")
    assert web.get("/tasks").headers["Location"].endswith("/account/2fa")
    assert "您的角色须启用两步验证" in web.text("/account/2fa")
    r = world.client.post("/api/v1/tokens", json={"username": "ministry", "password": PASSWORD})
    assert r.status_code == 403 and "两步验证" in r.json["error"]


def test_an_admin_resets_a_lost_factor_and_it_is_logged(world, app):
    enrol(app, "zj_reviewer")
    admin = Browser(app, "admin")
    uid = world.ids["zj_reviewer"]
    r = admin.post_form(f"/admin/users/{uid}/mfa-reset", {}, page=f"/admin/users/{uid}")
    assert r.status_code == 302
    web = Browser(app, "zj_reviewer")  # the password alone logs in again
    assert web.get("/tasks").status_code == 200
    assert ("mfa_reset", world.ids["admin"], "admin", uid) in events(app)


def test_an_admin_reset_password_must_be_changed_at_next_login(world, app):
    admin = Browser(app, "admin")
    uid = world.ids["zj_staff"]
    clerk = Browser(app, "zj_staff")
    r = admin.post_form(
        f"/admin/users/{uid}",
        {
            "display_name": "王科员",
            "role": "county_staff",
            "county_code": "330523",
            "password": "临时密码-请尽快修改-01",
            "active": "y",
        },
    )
    assert r.status_code == 302
    assert clerk.get("/tasks").status_code == 302  # the old session ended with the reset
    web = Browser(app)
    r = web.post_form("/login", {"username": "zj_staff", "password": "临时密码-请尽快修改-01"}, page="/login")
    assert r.headers["Location"].endswith("/account/password")
    assert web.get("/tasks").headers["Location"].endswith("/account/password")
    r = web.post_form(
        "/account/password",
        {"current": "临时密码-请尽快修改-01", "new": "安吉白茶-明前-头采-2026", "confirm": "安吉白茶-明前-头采-2026"},
    )
    assert r.status_code == 302 and web.get("/tasks").status_code == 200
    assert ("password_reset", world.ids["admin"], "admin", uid) in events(app)


def test_my_sessions_lists_and_ends_them(world, app):
    phone, desk = Browser(app, "zj_staff"), Browser(app, "zj_staff")
    world.headers("zj_staff")
    page = desk.text("/account/sessions")
    assert page.count("本浏览器") == 1 and page.count("结束") >= 1 and "吊销" in page
    from kxflow.accounts.models import UserSession

    with app.app_context():
        other = db.session.scalars(select(UserSession).order_by(UserSession.id)).first()
    r = desk.post_form(f"/account/sessions/{other.id}/end", {}, page="/account/sessions")
    assert r.status_code == 302
    assert phone.get("/tasks").status_code == 302 and desk.get("/tasks").status_code == 200
    # another user's session id is not found
    r = Browser(app, "zj_leader").post_form(f"/account/sessions/{other.id}/end", {}, page="/account/sessions")
    assert r.status_code == 404


def test_a_session_lasts_twelve_hours_at_most_even_when_active(world, app):
    web = Browser(app, "zj_staff")
    start = clock.now()
    for minutes in range(20, 12 * 60, 20):  # a request every 20 minutes all day
        clock.freeze(start + timedelta(minutes=minutes))
        assert web.get("/tasks").status_code == 200, minutes
    clock.freeze(start + timedelta(hours=12, minutes=1))
    assert web.get("/tasks").status_code == 302


def test_the_session_id_and_csrf_token_change_at_login(world, app):
    """What the cookie holds before login (its CSRF secret) is not what it holds after: nothing carries over."""
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    web = Browser(app)
    web.text("/login")
    before = serializer.loads(web.client.get_cookie(name).value)
    web.post_form("/login", {"username": "zj_staff", "password": PASSWORD}, page="/login")
    web.text("/tasks")
    after = serializer.loads(web.client.get_cookie(name).value)
    assert before["csrf_token"] != after["csrf_token"] and after["sid"] and "sid" not in before


def test_deactivation_ends_everything_at_once(world, app):
    clerk = Browser(app, "zj_staff")
    headers = world.headers("zj_staff")
    admin = Browser(app, "admin")
    uid = world.ids["zj_staff"]
    admin.post_form(f"/admin/users/{uid}", {"display_name": "王", "role": "county_staff", "county_code": "330523"})
    assert clerk.get("/tasks").status_code == 302
    assert world.client.get("/api/v1/applications", headers=headers).status_code == 401


def test_the_lockout_is_told_in_chinese_and_lifts(world, app):
    for _ in range(10):
        Browser(app).post_form("/login", {"username": "zj_staff", "password": "wrong"}, page="/login")
    r = Browser(app).post_form("/login", {"username": "zj_staff", "password": PASSWORD}, page="/login")
    assert r.status_code == 429 and "该账号已暂时锁定 15 分钟" in r.data.decode()
    # an unknown name locks the same way: the lockout says nothing about which names exist
    for _ in range(10):
        world.client.post("/api/v1/tokens", json={"username": "no_such_user", "password": "x"})
    assert world.client.post("/api/v1/tokens", json={"username": "no_such_user", "password": "x"}).status_code == 429
    clock.freeze(clock.now() + timedelta(minutes=16))
    assert Browser(app, "zj_staff").get("/tasks").status_code == 200
    assert {"login_failed", "login_locked"} <= {e[0] for e in events(app)}


def test_the_throttle_is_shared_by_workers_through_redis(database):
    """Two app processes (two gunicorn workers) with REDIS_URL count one name's failures together."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": database["url"],
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_TEST_DB + 1}",
        "LOGIN_MAX_FAILURES": 4,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    one, two = create_app(settings).test_client(), create_app(settings).test_client()
    name = f"nobody-{uuid.uuid4().hex[:8]}"
    for client in (one, two, one):
        assert client.post("/api/v1/tokens", json={"username": name, "password": "x"}).status_code == 401
    r = two.post("/api/v1/tokens", json={"username": name, "password": "x"})
    assert r.status_code == 429 and r.json["code"] == "locked_out"
    assert one.post("/api/v1/tokens", json={"username": name, "password": "x"}).status_code == 429


def test_production_hashes_with_argon2id_at_owasp_parameters_and_upgrades_old_hashes(world, app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "argon2id")
    with app.app_context():
        fresh = passwords.hash_password("安吉白茶-明前-头采-2026")
        assert fresh.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # above OWASP's 19 MiB, t=2, p=1
        user = db.session.get(User, world.ids["zj_staff"])
        assert user.password_hash.startswith("pbkdf2:")  # written with the suite's fast method
    assert world.client.post("/api/v1/tokens", json={"username": "zj_staff", "password": PASSWORD}).status_code == 201
    with app.app_context():
        assert db.session.get(User, world.ids["zj_staff"]).password_hash.startswith("$argon2id$")
    assert "password_rehashed" in {e[0] for e in events(app)}


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("12345678", False),
        ("password1234", False),
        ("zj_staff2026!", False),
        ("安吉白茶-明前-头采-2026", True),
        ("x" * 129, False),
    ],
)
def test_the_password_policy(app, password, ok):
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert (passwords.problems(password, user_inputs=("zj_staff",)) == []) is ok


def test_the_security_log_page_filters(world, app):
    Browser(app).post_form("/login", {"username": "zj_staff", "password": "wrong"}, page="/login")
    Browser(app, "zj_leader")
    admin = Browser(app, "admin")
    page = admin.text("/admin/security-log?event=login_failed")
    assert "登录失败" in page and "zj_staff" in page and "127.0.0.1" in page and "zj_leader" not in page
    assert "zj_leader" in admin.text("/admin/security-log?user=zj_leader")
    assert Browser(app, "ministry").get("/admin/security-log").status_code == 403
    assert "access_refused" in {e[0] for e in events(app)}  # the ministry's refused look was logged too


def test_scope_refusals_are_logged(world, app):
    app_id = world.new_application("zj_staff")
    assert world.api("get", f"/api/v1/applications/{app_id}", "sc_staff").status_code == 404
    assert ("access_refused", world.ids["sc_staff"], "sc_staff", None) in events(app)


def test_an_admin_ends_every_session_of_a_user(world, app):
    clerk = Browser(app, "zj_staff")
    headers = world.headers("zj_staff")
    uid = world.ids["zj_staff"]
    r = Browser(app, "admin").post_form(f"/admin/users/{uid}/end-sessions", {}, page=f"/admin/users/{uid}")
    assert r.status_code == 302
    assert clerk.get("/tasks").status_code == 302
    assert world.client.get("/api/v1/applications", headers=headers).status_code == 401
    assert ("sessions_ended", world.ids["admin"], "admin", uid) in events(app)


def test_logout_clears_the_browser(world, app):
    web = Browser(app, "zj_staff")
    r = web.post_form("/logout", {}, page="/tasks")
    assert r.status_code == 302 and r.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert ("logout", world.ids["zj_staff"], "zj_staff", None) in events(app)


def _ended_by_password_change(app, uid: int) -> None:
    with app.app_context():
        user = db.session.get(User, uid)
        change_own_password(user, PASSWORD, "新的密码-换过了-2026", "新的密码-换过了-2026", keep_sid=None)
        db.session.commit()


def _ended_by_admin(app, uid: int) -> None:
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        end_sessions_of(admin, uid)
        db.session.commit()


@pytest.mark.parametrize("how", ["revoked", "deactivated", "password_changed", "sessions_ended"])
def test_a_token_ended_in_one_app_instance_is_refused_at_once_by_another(world, app, database, how):
    """Two app instances on one database, as two gunicorn workers: the second has just served the token, for a
    read and for a write; the token ends through the first (revoked, the user deactivated, the password changed,
    the administrator's "end all sessions"); the second's very next request with it is refused, read or write."""
    settings = {
        key: app.config[key]
        for key in ("SQLALCHEMY_DATABASE_URI", "UPLOAD_FOLDER", "TOKEN_RATE_LIMIT", "PASSWORD_HASH_METHOD")
    }
    second = create_app(settings).test_client()
    app_id = world.new_application()
    headers, uid = world.headers("zj_staff"), world.ids["zj_staff"]
    path = f"/api/v1/applications/{app_id}"
    assert second.get(path, headers=headers).status_code == 200
    assert second.patch(path, json={"contact_name": "张三"}, headers=headers).status_code == 200

    if how == "revoked":
        assert world.client.delete("/api/v1/tokens/current", headers=headers).status_code == 204
    elif how == "deactivated":
        admin = Browser(app, "admin")
        admin.post_form(f"/admin/users/{uid}", {"display_name": "王", "role": "county_staff", "county_code": "330523"})
    elif how == "password_changed":
        _ended_by_password_change(app, uid)
    else:
        _ended_by_admin(app, uid)

    assert second.get(path, headers=headers).status_code == 401
    assert second.patch(path, json={"contact_name": "李四"}, headers=headers).status_code == 401
    assert second.post(f"{path}/transitions", json={"trigger": "submit"}, headers=headers).status_code == 401
    with app.app_context():
        kept = db.session.scalar(select(Application).where(Application.id == app_id))
        assert (kept.contact_name, kept.state) == ("张三", "draft")


def test_a_tokens_last_use_is_noted_once_a_minute_and_not_by_a_refused_write(world, app):
    """我的会话 shows when each token was last used. A write notes it with its own writes (on PostgreSQL in the
    statement that reads the token), a read in a transaction of its own, each at most once a minute; a write that is
    refused is rolled back with its note, and the next request notes the use."""
    app_id = world.new_application()
    headers = world.headers("zj_staff")
    path = f"/api/v1/applications/{app_id}"

    def last_use():
        with app.app_context():
            return db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == world.ids["zj_staff"]))

    start = clock.now().replace(microsecond=0) + timedelta(minutes=2)  # past any use while the test world was built
    try:
        clock.freeze(start)
        assert world.client.patch(path, json={"contact_name": "张三"}, headers=headers).status_code == 200
        assert last_use() == start
        clock.freeze(start + timedelta(seconds=30))
        assert world.client.patch(path, json={"contact_name": "李四"}, headers=headers).status_code == 200
        assert last_use() == start  # not yet a minute: the row is not written again
        clock.freeze(start + timedelta(seconds=61))
        refused = world.client.post(f"{path}/transitions", json={"trigger": "no_such_action"}, headers=headers)
        assert refused.status_code == 422
        assert last_use() == start
        assert world.client.get(path, headers=headers).status_code == 200
        assert last_use() == start + timedelta(seconds=61)
        clock.freeze(start + timedelta(seconds=125))
        assert world.client.patch(path, json={"contact_name": "王五"}, headers=headers).status_code == 200
        assert last_use() == start + timedelta(seconds=125)
    finally:
        clock.freeze(None)
