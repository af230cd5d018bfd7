"""The audit trail cannot be rewritten unseen: the app's own connection is refused every change, the database
refuses TRUNCATE, and every row is chained to the one before it, so `kxflow verify-audit` names an edit."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from kxflow import create_app
from kxflow.core.db import db
from kxflow.indicators.models import load_packaged_sets
from kxflow.regions.loader import load_regions
from kxflow.workflow import holders
from kxflow.workflow.models import AuditRecord
from tests.conftest import BACKEND, PG_DB
from tests.dbutil import recreate_pg_database
from tests.factories import build_world


def _walk(world) -> int:
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_return", "zj_leader"), ("submit", "zj_staff"))
    return app_id


def test_every_row_is_chained_to_the_one_before_it(world, app):
    first, second = _walk(world), world.new_application("zj2_staff")
    world.walk(second, ("submit", "zj2_staff"))
    with app.app_context():
        rows = db.session.execute(
            text("SELECT application_id, prev_hash, row_hash FROM audit_records ORDER BY id")
        ).all()
    trail = [r for r in rows if r.application_id == first]
    assert trail[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in trail[1:]] == [r.row_hash for r in trail[:-1]]
    assert [r.prev_hash for r in rows if r.application_id == second] == ["0" * 64]  # one chain per application
    r = app.test_cli_runner().invoke(args=["kxflow", "verify-audit"])
    assert r.exit_code == 0 and "audit trail intact: 4 records in 2 trails" in r.output, r.output


@pytest.mark.parametrize(
    ("tamper", "record", "problem"),
    [
        ("UPDATE audit_records SET comment = '已核实' WHERE id = 2", 2, "does not match its own hash"),
        ("DELETE FROM audit_records WHERE id = 2", 3, "does not follow the record before it"),
    ],
)
def test_verify_audit_names_the_first_broken_link(world, app, owner_engine, tamper, record, problem):
    """Someone with the owner's rights (the app has none) edits or removes a row: the chain shows where."""
    app_id = _walk(world)
    with owner_engine.begin() as conn:
        if owner_engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # past the triggers: a superuser
        else:
            conn.execute(text("DROP TRIGGER audit_records_no_update"))
            conn.execute(text("DROP TRIGGER audit_records_no_delete"))
        conn.execute(text(tamper))
    r = app.test_cli_runner().invoke(args=["kxflow", "verify-audit"])
    assert r.exit_code == 1
    assert f"application {app_id}: audit record {record} {problem}" in r.output


def test_two_rows_cannot_claim_the_same_predecessor(world, app):
    """A fork of the chain (two writers appending at once on one trail) is refused by the database."""
    _walk(world)
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM audit_records WHERE id = 3")).mappings().one()
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            db.session.execute(
                text(
                    "INSERT INTO audit_records (application_id, trigger, from_state, to_state, actor_id, actor_role,"
                    " comment, revision_round, snapshot, at, prev_hash, row_hash) VALUES (:a, 'x', 'draft', 'draft',"
                    " :actor, 'county_staff', NULL, 0, '{}', :at, :prev, :h)"
                ),
                {
                    "a": row["application_id"],
                    "actor": row["actor_id"],
                    "at": row["at"],
                    "prev": row["prev_hash"],
                    "h": "f" * 64,
                },
            )
            db.session.flush()
        db.session.rollback()


def test_a_lost_version_check_writes_neither_the_move_nor_its_audit_row(world, app, monkeypatch):
    """Someone else's write lands between reading the application and writing the move (here: its version moved
    on, in the same transaction): the move and its audit row, one statement on PostgreSQL, are refused together —
    409, the application as it was, no row in its trail, the chain intact."""
    app_id = world.new_application()
    before = world.db_count(AuditRecord, AuditRecord.application_id == app_id)
    clear = holders.clear_if_moved

    def someone_else_wrote(application, from_state, row):
        db.session.execute(text("UPDATE applications SET version = version + 1 WHERE id = :id"), {"id": application.id})
        clear(application, from_state, row)

    monkeypatch.setattr(holders, "clear_if_moved", someone_else_wrote)
    r = world.api("post", f"/api/v1/applications/{app_id}/transitions", "zj_staff", json={"trigger": "submit"})
    assert r.status_code == 409 and r.json["code"] == "conflict", r.json
    assert world.db_application(app_id).state == "draft"
    assert world.db_count(AuditRecord, AuditRecord.application_id == app_id) == before
    monkeypatch.setattr(holders, "clear_if_moved", clear)
    r = world.api("post", f"/api/v1/applications/{app_id}/transitions", "zj_staff", json={"trigger": "submit"})
    assert r.status_code == 200 and r.json["state"] == "county_review", r.json
    r = app.test_cli_runner().invoke(args=["kxflow", "verify-audit"])
    assert r.exit_code == 0 and "audit trail intact" in r.output, r.output


@pytest.mark.pg_only
def test_the_app_role_may_only_read_and_add_to_the_append_only_tables(world, app):
    """Finding 8: the app connects as a role that owns nothing; UPDATE, DELETE, TRUNCATE, DISABLE TRIGGER and
    session_replication_role are all refused to it, on the audit trail and the security log alike."""
    _walk(world)
    with app.app_context():
        assert db.engine.url.username == f"{PG_DB}_app"
        for statement in (
            "UPDATE audit_records SET comment = 'x'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
            "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only",
            "DROP TRIGGER audit_records_append_only ON audit_records",
            "SET session_replication_role = replica",
            "UPDATE security_events SET event = 'x'",
            "DELETE FROM security_events",
            "TRUNCATE security_events",
            "ALTER TABLE security_events DISABLE TRIGGER ALL",
            "CREATE TABLE scratch (id int)",
        ):
            with pytest.raises(Exception, match="permission denied|must be owner"), db.engine.begin() as conn:
                conn.execute(text(statement))
        from kxflow.core.db import database_role_problems

        assert database_role_problems() == []
    r = world.api("get", "/api/v1/applications/1/history", "zj_staff")
    assert len(r.json) == 3


@pytest.mark.pg_only
def test_truncate_is_refused_even_to_the_owner(app, owner_engine):
    with pytest.raises(Exception, match="append-only"), owner_engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_records CASCADE"))
    with pytest.raises(Exception, match="append-only"), owner_engine.begin() as conn:
        conn.execute(text("TRUNCATE security_events"))


@pytest.mark.pg_only
def test_production_refuses_to_run_as_the_owner(database, monkeypatch):
    """The start-up check: connected as a superuser/owner, production refuses; as the app role it starts."""
    from kxflow.config import ConfigError

    monkeypatch.setenv("KXFLOW_ENV", "production")
    settings = {
        "SECRET_KEY": "0123456789abcdef" * 4,
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "SQLALCHEMY_DATABASE_URI": database["owner_url"],
    }
    with pytest.raises(ConfigError, match="superuser"):
        create_app(settings)
    create_app({**settings, "SQLALCHEMY_DATABASE_URI": database["url"]})


@pytest.mark.sqlite_only
def test_sqlite_guard_refuses_the_app_connection(app):
    """SQLite has no roles: the app's connection carries an authorizer that refuses the same changes (before,
    DROP TRIGGER took the append-only rule away)."""
    with app.app_context():
        for statement in (
            "UPDATE audit_records SET comment = 'x'",
            "DELETE FROM security_events",
            "DROP TRIGGER audit_records_no_update",
            "DROP TABLE audit_records",
            "PRAGMA writable_schema = ON",
        ):
            with pytest.raises(Exception, match="not authorized"), db.engine.begin() as conn:
                conn.execute(text(statement))


def test_the_migration_chains_rows_written_before_it(tmp_path):
    """Trails written before the chain existed are chained by the migration, exactly as the app chains them:
    rows written at head, the chain columns dropped (down to 0010), then migrated up again."""
    url = recreate_pg_database(f"{PG_DB}_chain") if BACKEND == "postgresql" else f"sqlite:///{tmp_path / 'c.sqlite'}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(tmp_path), "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
    )
    with app.app_context():
        upgrade()
        load_regions()
        load_packaged_sets()
        db.session.commit()
    world = build_world(app, app.test_client())
    _walk(world)
    with app.app_context():
        before = db.session.execute(text("SELECT id, prev_hash, row_hash FROM audit_records ORDER BY id")).all()
        db.session.remove()
        downgrade(revision="0010")
        upgrade()
        after = db.session.execute(text("SELECT id, prev_hash, row_hash FROM audit_records ORDER BY id")).all()
        assert after == before and len(after) == 3
        r = app.test_cli_runner().invoke(args=["kxflow", "verify-audit"])
        assert r.exit_code == 0, r.output
        db.session.remove()
        db.engine.dispose()


@pytest.mark.pg_only
def test_on_postgresql_a_transition_writes_everything_in_its_move_and_reads_once_after_the_lock(world, app):
    """Issue 15 §1: four statements in all. The token is read with its last use noted; the claim, the trail's head
    and the attachments are read in one statement once the row is locked; the move, its audit row (under the id
    reserved then), its notifications and its reminders are one statement. What the user gets is the same: the
    next level told, the reminders planned, the chain intact."""
    from sqlalchemy import event

    from kxflow.notifications.models import Notification
    from kxflow.reminders.models import Reminder

    app_id = world.new_application()
    with app.app_context():
        engine = db.engine

    def statements_of(trigger: str, user: str, state: str) -> list[str]:
        world.headers(user)  # the token issued before counting
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            seen.append(" ".join(statement.split()))

        event.listen(engine, "before_cursor_execute", count)
        try:
            r = world.api("post", f"/api/v1/applications/{app_id}/transitions", user, json={"trigger": trigger})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert r.status_code == 200 and r.json["state"] == state, r.json
        return seen

    # a submission's guards (the county's eligibility, its assessment result) read with the lock, in that statement
    for seen in (
        statements_of("submit", "zj_staff", "county_review"),
        statements_of("county_approve", "zj_leader", "province_review"),
    ):
        seen = [s for s in seen if "holiday_years" not in s]  # the calendar: cached
        # the token read, its last use noted in the same statement (a data-modifying CTE)
        tokens = [s for s in seen if "FROM users JOIN api_tokens" in s]
        assert len(tokens) == 1 and tokens[0].startswith("WITH noted AS (UPDATE api_tokens"), tokens
        moves = [s for s in seen if s.startswith("WITH moved AS")]
        assert len(moves) == 1, seen
        assert all(f"INSERT INTO {table}" in moves[0] for table in ("audit_records", "notifications", "reminders"))
        reads = [s for s in seen if s.startswith("SELECT")]
        assert sum("task_holders" in s for s in reads) == 1 and sum("FOR UPDATE" in s for s in reads) == 1, reads
        assert len(reads) == 2 and len(seen) == 4, seen  # the token, the lock, the reads after it, the move

    province = world.db_count(Notification, Notification.application_id == app_id, Notification.event == "transition")
    assert province >= 2  # the submission's, then the province's call to act
    pending = world.db_count(
        Reminder,
        Reminder.application_id == app_id,
        Reminder.state == "province_review",
        Reminder.cancelled_at.is_(None),
    )
    assert pending >= 1
    assert (
        world.db_count(
            Reminder,
            Reminder.application_id == app_id,
            Reminder.state == "county_review",
            Reminder.cancelled_at.is_(None),
            Reminder.sent_at.is_(None),
        )
        == 0
    )  # the county stage's reminders were cancelled in the same statement
    r = app.test_cli_runner().invoke(args=["kxflow", "verify-audit"])
    assert r.exit_code == 0 and "audit trail intact" in r.output, r.output
