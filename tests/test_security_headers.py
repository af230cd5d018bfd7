"""Finding 5: every response carries the browser security headers; pages with personal data are not cached;
HSTS and HTTPS in production; the docs page has no inline script left."""

from __future__ import annotations

import re

import pytest

from kxflow import create_app
from tests.web_support import Browser


def test_every_page_carries_the_policy(world, client):
    for path in ("/login", "/public/notices", "/api/v1/docs", "/api/v1/openapi.json", "/healthz", "/nowhere"):
        h = client.get(path).headers
        csp = h["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp and h["X-Frame-Options"] == "DENY", path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "same-origin", path
        assert "Strict-Transport-Security" not in h  # not over plain HTTP in testing


def test_personal_pages_are_not_stored(world, app):
    web = Browser(app, "zj_staff")
    assert web.get("/tasks").headers["Cache-Control"] == "no-store"
    assert world.api("get", "/api/v1/applications", "zj_staff").headers["Cache-Control"] == "no-store"
    assert "no-store" not in (app.test_client().get("/public/notices").headers.get("Cache-Control") or "")
    assert "no-store" not in (web.get("/static/kxflow.css").headers.get("Cache-Control") or "")


def test_no_template_has_inline_script_or_style():
    """Inline code would be refused by the policy: every template keeps scripts and styles in static files."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "kxflow"
    offenders = []
    for path in root.rglob("*.html"):
        text = re.sub(r"{#.*?#}", "", path.read_text(encoding="utf-8"), flags=re.S)
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\sstyle=|<style|\son[a-z]+=", text):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_the_docs_page_starts_swagger_from_a_static_file(client):
    page = client.get("/api/v1/docs").data.decode()
    assert re.findall(r"<script[^>]*>\s*[^<\s]", page) == []  # no inline script body
    assert '<script src="/static/swagger-init.js">' in page
    assert "&#34;validatorUrl&#34;: null" in page  # its settings travel in a data attribute


@pytest.fixture
def production(monkeypatch, database):
    monkeypatch.setenv("KXFLOW_ENV", "production")
    return {
        "SECRET_KEY": "0123456789abcdef" * 4,
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "DATABASE_IS_OWNER": True,  # no database here: the role check is tested elsewhere
        "RATELIMIT_ENABLED": True,
    }


def test_production_sends_hsts_and_keeps_to_https(production):
    app = create_app(production)
    client = app.test_client()
    r = client.get("/healthz", base_url="https://kxflow.example.gov.cn")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    r = client.get("/login", base_url="http://kxflow.example.gov.cn")
    assert r.status_code == 301 and r.headers["Location"] == "https://kxflow.example.gov.cn/login"
    assert client.post("/api/v1/tokens", base_url="http://kxflow.example.gov.cn", json={}).status_code == 403
    login = client.get("/login", base_url="https://kxflow.example.gov.cn")
    assert "__Host-kxflow=" in login.headers["Set-Cookie"] and "Secure" in login.headers["Set-Cookie"]


def test_behind_a_proxy_the_client_address_and_https_come_from_it(production):
    """With PROXY_COUNT=1, the proxy's X-Forwarded-For and -Proto are believed (one hop), not more."""
    app = create_app({**production, "PROXY_COUNT": 1})
    seen = {}

    @app.get("/_probe")
    def _probe():
        from flask import request

        seen.update(addr=request.remote_addr, secure=request.is_secure)
        return "ok"

    headers = {"X-Forwarded-For": "10.9.9.9, 203.0.113.7", "X-Forwarded-Proto": "https"}
    assert app.test_client().get("/_probe", headers=headers).status_code == 200
    assert seen == {"addr": "203.0.113.7", "secure": True}
    plain = create_app(production)
    plain.add_url_rule("/_probe", view_func=_probe)
    plain.test_client().get("/_probe", headers=headers, base_url="https://x")
    assert seen["addr"] == "127.0.0.1"  # no proxy configured: forwarded headers are ignored


def test_free_text_comes_back_escaped(world, app):
    """ASVS 1.2.1, 3.2.2: a script in a comment is shown as text on the page (Jinja autoescaping)."""
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"))
    world.fire(app_id, "county_return", "zj_leader", comment='<script>alert("x")</script><img src=x onerror=alert(1)>')
    page = Browser(app, "zj_staff").text(f"/applications/{app_id}")
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page and "<img src=x" not in page


def test_no_trace_no_cors_no_directory_listing(client):
    """ASVS 13.4.4, 3.4.2, 13.4.3: TRACE is not served, no cross-origin access is granted, folders are not listed."""
    assert client.open("/login", method="TRACE").status_code == 405
    r = client.get("/api/v1/openapi.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    assert client.get("/static/").status_code == 404
    assert client.get("/static/vendor/").status_code == 404


def test_the_security_log_cannot_be_forged_by_what_it_records(world, app):
    """ASVS 16.4.1: a user agent or name with line breaks and control characters is stored neutralised."""
    world.client.post(
        "/api/v1/tokens",
        json={"username": "evil\nlogin_ok admin", "password": "x"},
        headers={"User-Agent": "curl\x1b[2J\x002026-01-01 login_ok admin"},
    )
    from sqlalchemy import text

    from kxflow.core.db import db

    with app.app_context():
        row = db.session.execute(text("SELECT username, user_agent, at FROM security_events")).one()
    assert "\n" not in row.username and "\x1b" not in row.user_agent and "\x00" not in row.user_agent
