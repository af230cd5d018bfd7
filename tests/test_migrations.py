"""Migrations are the schema: one head, upgrade from empty gives exactly the models, downgrade works."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from kxflow import create_app
from kxflow.core.db import db
from tests.conftest import BACKEND, PG_DB
from tests.dbutil import recreate_pg_database


@pytest.fixture
def empty_database(tmp_path):
    if BACKEND == "postgresql":
        return recreate_pg_database(f"{PG_DB}_migrations")
    return f"sqlite:///{tmp_path / 'migrations.sqlite'}"


def test_single_head(app):
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        assert len(script.get_heads()) == 1


def test_upgrade_from_empty_matches_models_and_downgrade_to_base(empty_database, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "UPLOAD_FOLDER": str(tmp_path)})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == []
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()  # and back up again, cleanly
        assert set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    if BACKEND == "postgresql":
        create_engine(empty_database).dispose()


def _model_checks() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table in db.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                out.setdefault(table.name, {})[constraint.name] = str(constraint.sqltext)
    return out


def _database_checks(engine) -> dict[str, dict[str, str]]:
    inspector = inspect(engine)
    out: dict[str, dict[str, str]] = {}
    for table in db.metadata.tables:
        for check in inspector.get_check_constraints(table):
            out.setdefault(table, {})[check["name"]] = check["sqltext"]
    return out


def _squeeze(sql: str) -> list[str]:
    """The condition's words, whatever the spacing, brackets or order of an IN list."""
    return sorted(sql.replace("(", " ").replace(")", " ").replace(",", " ").split())


def test_check_constraints_of_models_and_migrated_database_are_the_same(app):
    """Alembic's comparison ignores CHECKs, so they are compared here: the same names on every table, and
    on SQLite (which keeps the text as written) the same conditions."""
    with app.app_context():
        models, database = _model_checks(), _database_checks(db.engine)
        assert {t: set(c) for t, c in models.items()} == {t: set(c) for t, c in database.items()}
        if BACKEND == "sqlite":
            for table, checks in models.items():
                for name, sql in checks.items():
                    assert _squeeze(database[table][name]) == _squeeze(sql), (table, name)


@pytest.mark.parametrize(
    ("state", "column"),
    [("publicity", "publicity_ends_at"), ("designated", "designated_at"), ("rectification", "rectification_due")],
)
def test_the_database_refuses_a_stage_without_its_date(world, app, state, column):
    app_id = world.new_application()
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(
                text(f"UPDATE applications SET state = :s, {column} = NULL WHERE id = :id"), {"s": state, "id": app_id}
            )
            db.session.flush()
        db.session.rollback()
