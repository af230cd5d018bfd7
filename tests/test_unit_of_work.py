"""One commit per request, structurally: every write route runs in the same unit of work.

Counted, not assumed: the database's COMMITs are counted around each request, for a whole walk of
the workflow (API and web) and for every write route in the URL map called by users of each role.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from kxflow.core.db import db
from kxflow.core.uow import WRITE_METHODS
from tests.web_support import Browser

ROOT = Path(__file__).resolve().parent.parent


class CommitCounter:
    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0
        event.listen(self.engine, "commit", self._on_commit)

    def _on_commit(self, conn) -> None:
        # the security log, the login throttle and session bookkeeping commit on their own by design, tagged
        if not conn.get_execution_options().get("kxflow_side"):
            self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "commit", self._on_commit)


@pytest.fixture
def counted(app, monkeypatch):
    """Wraps the test clients so every request records how many COMMITs it caused."""
    counter = CommitCounter(app)
    seen: list[tuple[str, str, int, int]] = []
    original = FlaskClient.open

    def open_and_count(client, *args, **kwargs):
        before = counter.count
        response = original(client, *args, **kwargs)
        method = kwargs.get("method") or (args[0].method if args and hasattr(args[0], "method") else "GET")
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "?")
        seen.append((method, str(path), response.status_code, counter.count - before))
        return response

    monkeypatch.setattr(FlaskClient, "open", open_and_count)
    try:
        yield seen
    finally:
        counter.close()


def test_a_whole_walk_commits_once_per_request(world, app, counted):
    app_id = world.new_application()
    world.to_publicity(app_id)
    web = Browser(app, "zj_staff")
    other = world.new_application("zj2_staff")
    world.walk(other, ("submit", "zj2_staff"))
    Browser(app, "zj2_leader").post_form(
        f"/applications/{other}/transitions", {"trigger": "county_return", "comment": "补充材料"}
    )
    web.post_form("/settings", {"locale": "en", "email_all": "y"})
    writes = [row for row in counted if row[0] in WRITE_METHODS]
    assert len(writes) > 20
    assert all(n <= 1 for *_, n in counted), [row for row in counted if row[3] > 1]
    # the successful writes did commit (the counter sees them)
    assert sum(1 for _m, _p, status, n in writes if status < 400 and n == 1) > 15


def _write_rules(app):
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods & WRITE_METHODS)
        if methods:
            yield rule, methods


def _path(rule, value: int = 1) -> str:
    return re.sub(r"<(?:int:)?([a-z_]+)>", str(value), rule.rule)


@pytest.mark.parametrize("user", ["ministry", "zj_staff", "zj_reviewer", "expert_bj", "admin"])
def test_every_write_route_commits_at_most_once(world, app, counted, user):
    """Each write route, called by this user against existing rows, in whatever state: never two commits."""
    app_id = world.new_application()
    world.to_expert_review(app_id)
    web = Browser(app, user)
    token = _token(web, "/notifications")
    rules = sorted(_write_rules(app), key=lambda pair: pair[0].endpoint == "accounts.logout")  # logging out last
    assert len(rules) > 25
    for rule, methods in rules:
        for method in methods:
            path = _path(rule)
            if path.startswith("/api/"):
                world.api(method, path, user, json={})
            else:
                web.client.open(path, method=method, data={"csrf_token": token}, headers=web.headers)
    bad = [row for row in counted if row[3] > 1 or row[2] >= 500]
    assert not bad, bad


def _token(web: Browser, page: str) -> str:
    from tests.web_support import csrf_token

    return csrf_token(web.text(page))


def test_only_the_unit_of_work_and_the_background_scans_commit():
    """Operations flush and never commit: the places that may call commit() are named here, with why."""
    allowed = {
        "kxflow/core/uow.py",  # the unit of work itself
        "kxflow/reminders/operations.py",  # the scan: every due reminder in its own transaction
        "kxflow/notifications/dispatch.py",  # the outbox: every e-mail in its own transaction
    }
    found = set()
    for path in (ROOT / "kxflow").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
                found.add(str(path.relative_to(ROOT)))
    assert found <= allowed, found - allowed
