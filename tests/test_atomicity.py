"""One transition, one transaction: state, audit row and notifications commit together or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kxflow.core.db import db
from kxflow.notifications.models import Notification
from kxflow.workflow.models import AuditRecord


@pytest.fixture
def refuse_inserts_into(owner_engine):
    """Makes the database itself refuse inserts into a table (a trigger), as a full disk or a bug would."""
    installed = []

    def install(table: str) -> None:
        with owner_engine.begin() as conn:
            if owner_engine.dialect.name == "postgresql":
                conn.execute(
                    text(
                        "CREATE OR REPLACE FUNCTION kx_refuse() RETURNS trigger AS $$ "
                        "BEGIN RAISE EXCEPTION 'refused by test'; END; $$ LANGUAGE plpgsql"
                    )
                )
                conn.execute(
                    text(f"CREATE TRIGGER kx_refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION kx_refuse()")
                )
            else:
                conn.execute(
                    text(
                        f"CREATE TRIGGER kx_refuse BEFORE INSERT ON {table} "
                        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
                    )
                )
        installed.append(table)

    yield install
    with owner_engine.begin() as conn:
        for table in installed:
            if owner_engine.dialect.name == "postgresql":
                conn.execute(text(f"DROP TRIGGER IF EXISTS kx_refuse ON {table}"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS kx_refuse"))


@pytest.mark.parametrize("table", ["audit_records", "notifications"])
def test_a_failing_write_leaves_nothing_behind(world, refuse_inserts_into, table):
    app_id = world.new_application()
    before = world.db_application(app_id)
    refuse_inserts_into(table)
    r = world.fire(app_id, "submit", "zj_staff")
    assert r.status_code == 500
    assert r.json == {"error": "系统内部错误，已记录。", "code": "internal_error", "status": 500}
    after = world.db_application(app_id)
    assert (after.state, after.version, after.state_changed_at) == ("draft", before.version, before.state_changed_at)
    assert world.db_count(AuditRecord) == 0
    assert world.db_count(Notification) == 0


def test_audit_rows_cannot_be_changed_or_deleted(world, app):
    app_id = world.new_application()
    world.fire(app_id, "submit", "zj_staff")
    with app.app_context():
        for statement in ("UPDATE audit_records SET comment = 'rewritten'", "DELETE FROM audit_records"):
            # refused to the app's own connection: by its role's rights (PostgreSQL), its guard (SQLite)
            with pytest.raises(Exception, match="permission denied|not authorized"), db.engine.begin() as conn:
                conn.execute(text(statement))
    history = world.api("get", f"/api/v1/applications/{app_id}/history", "zj_staff").json
    assert len(history) == 1 and history[0]["comment"] is None


def test_the_returned_version_is_kept(world, app):
    app_id = world.new_application()
    world.walk(app_id, ("submit", "zj_staff"), ("county_approve", "zj_leader"))
    world.fire(app_id, "province_return", "zj_reviewer", comment="数据有误")
    world.api("patch", f"/api/v1/applications/{app_id}", "zj_staff", json={"indicators": {"st_commissioners": 120}})
    with app.app_context():
        from sqlalchemy import select

        record = db.session.scalar(select(AuditRecord).where(AuditRecord.trigger == "province_return"))
        assert record.snapshot["indicators"]["st_commissioners"] == 40  # as the province saw it
        assert len(record.snapshot["attachment_ids"]) == 4  # the three required files and the platforms' evidence
