"""Finding 1 (forgeable sessions) and the end of finding 14 (seed-demo in production): production is the default,
no secret lives in the code, a production start with any unsafe setting is refused with all of them listed, and a
cookie signed with the old published key opens nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface

from kxflow import config
from kxflow.config import ConfigError, load, unsafe_settings
from kxflow.core import clock

SAFE = {
    "SECRET_KEY": "f3a9c1e0b27d48e5a6c9d0e1f2a3b4c5d6e7f8091a2b3c4d",
    "DATABASE_URL": "postgresql+psycopg://kxflow_app@db/kxflow",
    "REDIS_URL": "redis://redis:6379/0",
}


@pytest.fixture
def env(monkeypatch):
    for name in ("KXFLOW_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_is_the_default(env):
    for name, value in SAFE.items():
        env.setenv(name, value)
    cfg = load()
    assert cfg["KXFLOW_ENV"] == "production" and cfg["SESSION_COOKIE_NAME"] == "__Host-kxflow"
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["HSTS_SECONDS"] > 0
    assert cfg["MFA_REQUIRED_ROLES"] == {"admin", "ministry_staff", "province_reviewer"}


def test_an_unconfigured_start_is_refused_with_every_reason(env):
    with pytest.raises(ConfigError) as refused:
        load()
    text = str(refused.value)
    for reason in ("SECRET_KEY must be set", "DATABASE_URL must name a PostgreSQL", "REDIS_URL must be set"):
        assert reason in text


def test_a_weak_secret_and_unsafe_overrides_are_refused(env):
    for name, value in SAFE.items():
        env.setenv(name, value)
    env.setenv("SECRET_KEY", "dev-only-not-secret")
    with pytest.raises(ConfigError, match="SECRET_KEY must be a random value"):
        load()
    env.setenv("SECRET_KEY", SAFE["SECRET_KEY"])
    problems = unsafe_settings(
        {
            **load(),
            "DEBUG": True,
            "SESSION_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": False,
            "SESSION_IDLE_MINUTES": 600,
        }
    )
    assert len(problems) == 4


def test_a_moved_clock_is_refused_in_production(env, monkeypatch):
    """The replay's clock offset must never reach a real instance: deadlines and sessions would move with it."""
    for name, value in SAFE.items():
        env.setenv(name, value)
    assert load()["SECRET_KEY"] == SAFE["SECRET_KEY"]
    monkeypatch.setattr(clock, "_offset", timedelta(days=3))
    with pytest.raises(ConfigError, match="KXFLOW_CLOCK_OFFSET_SECONDS must not be set"):
        load()


@pytest.mark.parametrize(
    "sender",
    ["kxflow", "noreply@", "a@b.cn, c@d.cn", "名称 <noreply@example.gov.cn", "a@b.cn\r\nBcc: spy@example.com"],
)
def test_a_sender_that_is_not_one_address_is_refused_in_production(env, sender):
    """MAIL_SENDER may be bare or carry a display name; anything else is named before a message goes out."""
    for name, value in SAFE.items():
        env.setenv(name, value)
    env.setenv("MAIL_SENDER", "国家科技进步示范县管理系统 <noreply@example.gov.cn>")
    assert load()["MAIL_SENDER"].endswith("<noreply@example.gov.cn>")
    env.setenv("MAIL_SENDER", sender)
    with pytest.raises(ConfigError, match="MAIL_SENDER must be one e-mail address"):
        load()


def test_the_image_alone_refuses_to_start(env, tmp_path):
    """What the Dockerfile's CMD does with no environment: gunicorn imports wsgi:app, which must not start."""
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=config.ROOT,
        env={"PATH": os.environ["PATH"], "KXFLOW_INSTANCE": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "refusing to start in production" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


def test_no_secret_in_the_code():
    source = (config.ROOT / "kxflow" / "config.py").read_text()
    assert "dev-only-not-secret" not in source


def test_development_makes_its_own_key_per_instance(env, tmp_path):
    env.setenv("KXFLOW_ENV", "development")
    env.setattr(config, "INSTANCE", tmp_path / "a")
    first = load()["SECRET_KEY"]
    assert load()["SECRET_KEY"] == first and len(first) == 64  # kept for the instance (a restart keeps sessions)
    key_file = tmp_path / "a" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    env.setattr(config, "INSTANCE", tmp_path / "b")
    assert load()["SECRET_KEY"] != first  # another instance, another key


def test_a_cookie_forged_with_the_old_published_key_opens_nothing(world, app):
    """The review forged a session for the ministry user offline with `dev-only-not-secret`."""
    forger = SecureCookieSessionInterface().get_signing_serializer(
        type("App", (), {"secret_key": "dev-only-not-secret", "config": app.config})()
    )
    cookie = forger.dumps({"_user_id": str(world.ids["ministry"]), "_fresh": True})
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    r = client.get("/tasks")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_even_a_cookie_signed_with_the_real_key_needs_a_live_session(world, app):
    """Defence in depth: a signed cookie naming a user but no session record of the server opens nothing."""
    forger = SecureCookieSessionInterface().get_signing_serializer(app)
    cookie = forger.dumps({"_user_id": str(world.ids["ministry"]), "_fresh": True, "sid": "made-up"})
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert client.get("/tasks").status_code == 302


def test_seed_demo_refuses_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "KXFLOW_ENV", "production")
    r = app.test_cli_runner().invoke(args=["kxflow", "seed-demo"])
    assert r.exit_code == 2 and "refuses to run in production" in r.output
    from sqlalchemy import func, select

    from kxflow.accounts.models import User
    from kxflow.core.db import db

    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0
