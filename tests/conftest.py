"""Test harness: one migrated database per run (SQLite or PostgreSQL, chosen by KXFLOW_TEST_DB),
reset before every test, and factories for users of each role and scope.

SQLite: the migrated template file (regions loaded) is copied over the test database before
each test. PostgreSQL: the migrations run as the owner (postgres) and the app under test connects
as the restricted role ``<database>_app``, as in production; between tests the owner truncates the
tables users write to, with ``session_replication_role = replica`` so the append-only tables'
TRUNCATE triggers stand aside for the harness alone. No service is optional: a missing PostgreSQL
fails the run.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("KXFLOW_ENV", "testing")

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from kxflow import create_app
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.indicators.definition import packaged_sets
from kxflow.workdays import calendar
from tests.dbutil import app_role, ensure_app_role, migrate_and_load, recreate_pg_database

BACKEND = os.environ.get("KXFLOW_TEST_DB", "sqlite")
PG_DB = os.environ.get("KXFLOW_TEST_PG_DB", "kxflow_test")
MUTABLE_TABLES = (
    "exports",
    "notifications",
    "audit_records",
    "attachments",
    "applications",
    "call_quota_overrides",
    "calls",
    "api_tokens",
    "users",
    "scheduler_locks",
    "security_events",
    "login_throttle",
    "user_sessions",
    "recovery_codes",
)

pytest_plugins = ["tests.factories", "tests.browser", "tests.workers_support"]


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("db")
    if BACKEND == "sqlite":
        template = tmp / "template.sqlite"
        migrate_and_load(f"sqlite:///{template}", tmp / "uploads")
        return {"url": f"sqlite:///{tmp / 'test.sqlite'}", "template": template, "path": tmp / "test.sqlite"}
    if BACKEND == "postgresql":
        owner_url = recreate_pg_database(PG_DB)
        url = ensure_app_role(PG_DB)
        migrate_and_load(owner_url, tmp / "uploads", app_role(PG_DB))
        return {"url": url, "owner_url": owner_url, "owner": create_engine(owner_url)}
    raise RuntimeError(f"KXFLOW_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")


@pytest.fixture(scope="session")
def app(database, tmp_path_factory):
    uploads = tmp_path_factory.mktemp("uploads")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database["url"],
            "UPLOAD_FOLDER": str(uploads),
            "TOKEN_RATE_LIMIT": "10000 per minute",
            "LOGIN_RATE_LIMIT": "10000 per minute",
            "PDF_RATE_LIMIT": "10000 per minute",  # the limit itself is tested with a small one
            "OBJECTION_RATE_LIMIT": "10000 per minute",
            "OBJECTION_GLOBAL_LIMIT": "10000 per minute",
            "ATTACHMENT_MAX_BYTES": 1024 * 1024,
            "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast in tests only
        }
    )
    return app


def reset_database(app, database) -> None:
    with app.app_context():
        db.session.remove()
        if BACKEND == "sqlite":
            db.engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(str(database["path"]) + suffix).unlink(missing_ok=True)
            shutil.copy(database["template"], database["path"])
        else:
            # a browser's last request of the previous test may still be reading on the live server: the TRUNCATE
            # can then lose a deadlock (PostgreSQL aborts one side); the reader's request ends, so take it again
            for attempt in range(5):
                try:
                    _truncate(database["owner"])
                    break
                except OperationalError as exc:
                    if getattr(exc.orig, "sqlstate", None) != "40P01" or attempt == 4:
                        raise
                    time.sleep(0.2 * (attempt + 1))


def _truncate(owner) -> None:
    with owner.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
        # reference data a test may add: only the packaged indicator sets stay
        packaged = [raw["version"] for raw in packaged_sets()]
        conn.execute(text("DELETE FROM indicator_sets WHERE NOT (version = ANY(:keep))"), {"keep": packaged})


@pytest.fixture(autouse=True)
def _fresh_state(app, database):
    reset_database(app, database)
    clock.freeze(None)
    calendar.forget()
    yield
    clock.freeze(None)
    with app.app_context():
        db.session.remove()


@pytest.fixture
def ctx(app):
    """An app context for calling operations directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests are deselected (and counted as such) on the SQLite run, SQLite-only ones on the
    PostgreSQL run."""
    other = "pg_only" if BACKEND == "sqlite" else "sqlite_only"
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


@pytest.fixture
def owner_engine(database):
    """A connection as the schema's owner (DDL in a test: a trigger that refuses inserts, and the like); on SQLite
    a plain connection, without the app's guard."""
    if BACKEND == "postgresql":
        yield database["owner"]
        return
    engine = create_engine(database["url"])
    yield engine
    engine.dispose()


# --- each suite's duration, and the time caps of the heavy ones -------------------------------------

# suites (test modules) that drive Chromium, workers or large data, and the most time each may take on
# this machine; a suite past its cap fails its remaining tests instead of running on
SUITE_CAPS = {
    "test_browser.py": 180,
    "test_browser_evaluation.py": 180,
    "test_browser_handling.py": 180,
    "test_browser_pages.py": 1500,
    "test_browser_rules.py": 240,
    "test_browser_dashboard.py": 240,
    "test_email_delivery.py": 300,
    "test_exports_pdf.py": 300,
    "test_replay.py": 600,  # the small run in make test; make replay (every county) is not capped
    "test_workflow_stateful.py": 240,
}
if int(os.environ.get("KXFLOW_REPLAY_COUNTIES", "36")) > 36:
    del SUITE_CAPS["test_replay.py"]  # nor is its duration printed as if it had one
_suite_seconds: dict[str, float] = {}


def pytest_runtest_setup(item):
    suite = item.path.name
    cap = SUITE_CAPS.get(suite)
    if cap is not None and _suite_seconds.get(suite, 0.0) > cap:
        pytest.fail(f"{suite} has run {_suite_seconds[suite]:.0f} s, past its cap of {cap} s", pytrace=False)


def pytest_runtest_logreport(report):
    suite = report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    _suite_seconds[suite] = _suite_seconds.get(suite, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _suite_seconds:
        return
    terminalreporter.section(f"suite durations ({BACKEND})")
    for suite, seconds in sorted(_suite_seconds.items(), key=lambda pair: -pair[1]):
        cap = SUITE_CAPS.get(suite)
        terminalreporter.write_line(f"{seconds:8.1f} s  {suite}" + (f"  (cap {cap} s)" if cap else ""))
