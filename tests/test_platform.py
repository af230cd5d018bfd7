"""Health, configuration, OpenAPI and docs served offline, and the rate limit shared through Redis."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
import redis

from kxflow import create_app
from kxflow.config import ConfigError, load
from tests.workers_support import REDIS_TEST_DB

REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_TEST_DB + 1}"


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok", "database": True}


def test_healthz_reports_an_unreachable_database(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.json["database"] is False


def test_production_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.setenv("KXFLOW_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load()
    monkeypatch.setenv("SECRET_KEY", "s3cret-from-the-vault-0123456789abcdef")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://kxflow_app@db/kxflow")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    cfg = load()
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert cfg["MAX_CONTENT_LENGTH"] > cfg["ATTACHMENT_MAX_BYTES"] == 20 * 1024 * 1024


def test_openapi_lists_the_contract(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path, methods in {
        "/api/v1/tokens": {"post"},
        "/api/v1/calls": {"get", "post"},
        "/api/v1/calls/{call_id}": {"get", "patch"},
        "/api/v1/calls/{call_id}/indicator-set": {"get"},
        "/api/v1/applications": {"get", "post"},
        "/api/v1/applications/{application_id}": {"get", "patch"},
        "/api/v1/applications/{application_id}/attachments": {"get", "post"},
        "/api/v1/applications/{application_id}/attachments/{attachment_id}": {"get"},
        "/api/v1/applications/{application_id}/transitions": {"post"},
        "/api/v1/applications/{application_id}/history": {"get"},
        "/api/v1/notifications": {"get"},
        "/api/v1/notifications/{notification_id}/read": {"post"},
    }.items():
        assert methods <= set(paths[path]), path


def test_docs_page_loads_nothing_from_outside(client):
    page = client.get("/api/v1/docs").data.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(ref.startswith("/static/") for ref in refs)
    for ref in refs:
        assert client.get(ref).status_code == 200
    assert "&#34;validatorUrl&#34;: null" in page


def test_405_keeps_the_allow_header(client):
    r = client.delete("/api/v1/applications")
    assert r.status_code == 405 and "GET" in r.headers["Allow"] and r.json["code"] == "method_not_allowed"


def test_token_rate_limit_holds_across_processes(database):
    """Limits live in Redis, so a second process (another gunicorn worker) sees the same count."""
    prefix = f"kxflow-test-{uuid.uuid4().hex}"
    settings = {
        "SQLALCHEMY_DATABASE_URI": database["url"],
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "TOKEN_RATE_LIMIT": "3 per minute",
    }
    client = create_app(settings).test_client()
    for _ in range(3):
        assert client.post("/api/v1/tokens", json={"username": "nobody", "password": "x"}).status_code == 401
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json,sys; from kxflow import create_app;"
            "c = create_app(json.loads(sys.argv[1])).test_client();"
            "r = c.post('/api/v1/tokens', json={'username': 'nobody', 'password': 'x'});"
            "print(r.status_code, r.json['error'])",
            __import__("json").dumps(settings),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == "429 请求过于频繁，请稍后再试。"
    keys = redis.Redis.from_url(REDIS_URL).keys(f"*{prefix}*")
    assert keys
    redis.Redis.from_url(REDIS_URL).delete(*keys)
