"""Migrations are the schema: one head, upgrade from empty gives exactly the models, downgrade works."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from kxflow import create_app
from kxflow.core.db import db
from tests.conftest import BACKEND
from tests.dbutil import recreate_pg_database


@pytest.fixture
def empty_database(tmp_path):
    if BACKEND == "postgresql":
        return recreate_pg_database("kxflow_migrations_test")
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
