"""Database set-up shared by the test harness and the benchmark: fresh PostgreSQL databases, migrated and loaded."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("KXFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def bench_database(name: str) -> str:
    """A bench's database: ``kxflow_<name>``, or ``<KXFLOW_TEST_PG_DB>_<name>`` when a checkout names its own, so
    two checkouts can bench at once without dropping each other's database."""
    return f"{os.environ.get('KXFLOW_TEST_PG_DB', 'kxflow')}_{name}"


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def recreate_pg_database(name: str) -> str:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return pg_url(name)


def app_role(database: str) -> str:
    """The restricted role the app connects as: named after the database, so two checkouts never share one."""
    return f"{database}_app"


def ensure_app_role(database: str) -> str:
    """Creates the app's login role if missing (no superuser, owns nothing; the migrations grant its rights) and
    returns the database URL that connects as it."""
    role = app_role(database)
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT'))
    engine.dispose()
    owner = pg_url(database)
    return owner.replace("://postgres@", f"://{role}@", 1)


def migrate_and_load(url: str, uploads: Path, app_role: str | None = None) -> None:
    """Schema through the migrations (never create_all), run as the owner, then the divisions and indicator sets;
    with ``app_role``, the migrations grant that role the app's rights."""
    from flask_migrate import upgrade

    from kxflow import create_app
    from kxflow.core.db import db
    from kxflow.indicators.models import load_packaged_sets
    from kxflow.regions.loader import load_regions

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads), "DATABASE_APP_ROLE": app_role})
    with app.app_context():
        upgrade()
        load_regions()
        load_packaged_sets()
        db.session.commit()
        db.engine.dispose()
