"""The one SQLAlchemy handle (a naming convention keeps constraint names stable in migrations), and what the
app's own connection may not do to the append-only tables."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, MetaData, text

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Objects stay readable after the request's single commit (the response is built from them).
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION),
    session_options={"expire_on_commit": False},
)


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


# Tables the app may add to and read, never change: the database refuses the rest to the app's connection.
APPEND_ONLY_TABLES = ("audit_records", "security_events", "call_changes")


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _source: str | None) -> int:
    """SQLite has no roles: an authorizer on every connection of the app plays the restricted role. It refuses
    UPDATE and DELETE on the append-only tables, dropping or altering them or their triggers, and writing the
    schema by hand. Migrations (the owner) lift it on their own connection."""
    if action in (sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE) and arg1 in APPEND_ONLY_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_DROP_TRIGGER and arg2 in APPEND_ONLY_TABLES:
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_DROP_TABLE,) and arg1 in APPEND_ONLY_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_ALTER_TABLE and arg2 in APPEND_ONLY_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "writable_schema" and arg2 is not None:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def guard_sqlite(dbapi_conn: sqlite3.Connection) -> None:
    dbapi_conn.set_authorizer(_sqlite_authorizer)


def unguard_sqlite(dbapi_conn: sqlite3.Connection) -> None:
    dbapi_conn.set_authorizer(None)


def database_role_problems() -> list[str]:
    """What is unsafe about the role the app connects as (PostgreSQL): it must not be a superuser, own any table,
    create in the schema, or change the append-only tables."""
    problems: list[str] = []
    with db.engine.connect() as conn:
        who = conn.execute(text("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
        if who.rolsuper:
            problems.append(f"the database user {who.current_user} is a superuser: connect as the restricted app role")
        owned = conn.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user")
        )
        if owned:
            problems.append(
                f"the database user {who.current_user} owns {owned} tables: connect as the app role, not the owner"
            )
        if conn.scalar(text("SELECT has_schema_privilege(current_user, 'public', 'CREATE')")):
            problems.append(f"the database user {who.current_user} may create objects in the schema")
        for table in APPEND_ONLY_TABLES:
            if conn.scalar(text("SELECT to_regclass(:t) IS NULL"), {"t": table}):
                problems.append(f"table {table} is missing: run the migrations (as the owner) first")
                continue
            for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
                if conn.scalar(text("SELECT has_table_privilege(current_user, :t, :p)"), {"t": table, "p": privilege}):
                    problems.append(f"the database user {who.current_user} may {privilege} {table}")
    return problems


@contextmanager
def side_transaction(*, durable: bool = True) -> Iterator[Connection]:
    """A short transaction of its own, beside the request's (security log, login throttle, session bookkeeping):
    it commits whatever the request does. Tagged ``kxflow_side`` so the one-commit-per-request count can tell it
    from the request's own commit. ``durable=False`` (a last-seen time) does not wait for the disk on
    PostgreSQL: losing it in a crash costs nothing, and waiting would double the fsyncs of every request."""
    with db.engine.connect() as conn:
        conn.execution_options(kxflow_side=True)
        with conn.begin():
            if not durable and conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield conn
