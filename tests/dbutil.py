"""Database set-up shared by the test harness and the benchmark: fresh PostgreSQL databases, migrated and loaded."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("KXFLOW_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def recreate_pg_database(name: str) -> str:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return pg_url(name)


def migrate_and_load(url: str, uploads: Path) -> None:
    """Schema through the migrations (never create_all), then the divisions and indicator sets."""
    from flask_migrate import upgrade

    from kxflow import create_app
    from kxflow.core.db import db
    from kxflow.indicators.models import load_packaged_sets
    from kxflow.regions.loader import load_regions

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_FOLDER": str(uploads)})
    with app.app_context():
        upgrade()
        load_regions()
        load_packaged_sets()
        db.session.commit()
        db.engine.dispose()
