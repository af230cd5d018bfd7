"""``flask kxflow seed-history``: a history made through the operations — the same seed gives the same history,
every audit trail is intact, and the dashboard has something to show in every part of it."""

from __future__ import annotations

from sqlalchemy import func, select

from kxflow.accounts.models import User
from kxflow.accounts.passwords import hash_password
from kxflow.core.db import db
from kxflow.demo import DEMO_PASSWORD
from kxflow.history import seed_history
from kxflow.statistics.operations import dashboard
from kxflow.workflow.audit import verify
from kxflow.workflow.models import Application, AuditRecord
from tests.conftest import reset_database


def _story(app) -> list[tuple]:
    with app.app_context():
        seed_history(4, 12, seed=7, programme_limit=120)
        db.session.commit()
        return list(
            db.session.execute(
                select(Application.county_code, Application.state, Application.score).order_by(Application.id)
            )
        )


def test_the_same_seed_gives_the_same_history_and_every_rule_held(app, database):
    first = _story(app)
    with app.app_context():
        assert list(verify()) == []  # every trail written by the operations, chained
        states = {state for _, state, _ in first}
        assert {"designated", "rejected"} <= states, states
        assert db.session.scalar(select(func.count(AuditRecord.id))) > 3 * len(first)
        full_path = {"submit", "county_approve", "province_recommend", "ministry_accept", "panel_seat", "score"}
        full_path |= {"schedule_inspection", "pass_inspection", "designate"}
        for (app_id,) in db.session.execute(select(Application.id).where(Application.state == "designated")):
            trail = set(db.session.scalars(select(AuditRecord.trigger).where(AuditRecord.application_id == app_id)))
            assert full_path <= trail, (app_id, full_path - trail)  # a designation's whole timeline is there
        figures = dashboard(db.session.scalar(select(User).where(User.username == "ministry")))
        assert figures["pass_rates"]["round_year"] is not None and figures["pass_rates"]["counties"] == 120
        assert figures["designations"]["years"]
        assert figures["pipeline"]["days"]
    reset_database(app, database)
    assert _story(app) == first


def test_the_command_loads_a_history_whose_trails_verify_and_whose_accounts_upgrade_at_login(app, monkeypatch):
    """The command's fast path (quick hashes for generated accounts, many steps per transaction) still leaves every
    trail chained, and a generated account logs in with the demo password and leaves with Argon2id."""
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "argon2id")  # as in production: never quick by default
    runner = app.test_cli_runner()
    r = runner.invoke(args=["kxflow", "seed-history", "--calls", "2", "--counties", "6", "--seed", "5"])
    assert r.exit_code == 0, r.output
    assert "call 2/2" in r.output
    r = runner.invoke(args=["kxflow", "verify-audit"])
    assert r.exit_code == 0 and "audit trail intact" in r.output, r.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Application.id))) == 12
        clerk = db.session.scalar(select(User).where(User.role == "county_staff").order_by(User.id).limit(1))
        assert clerk.password_hash.startswith("pbkdf2:sha256:1000$")  # quick: thousands of them
        name = clerk.username
    client = app.test_client()
    assert client.post("/api/v1/tokens", json={"username": name, "password": DEMO_PASSWORD}).status_code == 201
    with app.app_context():
        upgraded = db.session.scalar(select(User.password_hash).where(User.username == name))
        assert upgraded.startswith("$argon2id$")
        assert hash_password("a-password-a-person-chose").startswith("$argon2id$")  # quick hashes ended with it
