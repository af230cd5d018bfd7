"""Writing the append-only audit trail: every row of it goes through ``append``, one place to keep it whole.

Each row carries a SHA-256 over its content and the hash of the row before it in the same application's
trail (``prev_hash``; the first row of a trail follows ``GENESIS``), so a row edited, removed or slipped
in by someone who got past the database's refusals breaks the chain where it happened:
``flask --app wsgi kxflow verify-audit`` names the first broken link of every trail. A unique key on
(application, previous hash) makes two rows that claim the same predecessor impossible: of two writers
racing on one trail, the second gets a conflict (409) rather than a fork.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Integer, Sequence, Update, bindparam, event, exists, insert, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db, is_postgres
from kxflow.workflow.models import Application, AuditRecord

GENESIS = "0" * 64


def _canonical_time(at: datetime) -> str:
    return clock.as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """The hash of one row: its content, in a canonical JSON form, and the hash of the row before it."""
    content = {
        "application_id": fields["application_id"],
        "trigger": fields["trigger"],
        "from_state": fields["from_state"],
        "to_state": fields["to_state"],
        "actor_id": fields["actor_id"],
        "actor_role": fields["actor_role"],
        "comment": fields["comment"],
        "revision_round": fields["revision_round"],
        "snapshot": fields["snapshot"] or {},
        "at": _canonical_time(fields["at"]),
        "prev": prev_hash,
    }
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_ROW_CONTENT = (
    "application_id",
    "trigger",
    "from_state",
    "to_state",
    "actor_id",
    "actor_role",
    "comment",
    "revision_round",
    "snapshot",
    "at",
)


def _fields(row: AuditRecord) -> dict[str, Any]:
    return {c: getattr(row, c) for c in _ROW_CONTENT}


_LOCK_ROW = select(Application.id).where(Application.id == bindparam("application_id")).with_for_update()
_LAST_HASH = (
    select(AuditRecord.row_hash)
    .where(AuditRecord.application_id == bindparam("application_id"))
    .order_by(AuditRecord.id.desc())
    .limit(1)
)


def _head(application_id: int | None, locked: bool = False) -> str:
    """The hash of the trail's last row (the application row is locked first on PostgreSQL, so appends queue;
    ``locked``: the caller already holds that lock in this transaction)."""
    if application_id is None:
        last = db.session.scalar(
            select(AuditRecord.row_hash)
            .where(AuditRecord.application_id.is_(None))
            .order_by(AuditRecord.id.desc())
            .limit(1)
        )
        return last or GENESIS
    if is_postgres() and not locked:
        db.session.execute(_LOCK_ROW, {"application_id": application_id})
    return db.session.scalar(_LAST_HASH, {"application_id": application_id}) or GENESIS


def append(
    app: Application,
    actor: User,
    event: str,
    *,
    from_state: str,
    at: datetime,
    comment: str | None = None,
    snapshot: dict[str, Any] | None = None,
    row_locked: bool = False,
) -> AuditRecord:
    """One row of the application's timeline: a transition (``event`` a trigger, the application already at
    its new state) or an event that does not move it (催办 and the like: from and to the same state).
    ``row_locked``: the caller locked the application row (``SELECT … FOR UPDATE``) in this transaction, so the
    chain's head is read without locking it again."""
    db.session.flush()  # rows appended earlier in this transaction are part of the chain
    fields = _row_fields(app, actor, event, from_state, at, comment, snapshot)
    prev = _head(app.id, locked=row_locked)
    row = AuditRecord(**fields, prev_hash=prev, row_hash=row_hash(fields, prev))
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(_TAILS, {})[app.id] = row
    return row


def record_move(
    app: Application,
    actor: User,
    trigger: str,
    *,
    from_state: str,
    at: datetime,
    comment: str | None = None,
    snapshot: dict[str, Any] | None = None,
    head: str | None = None,
    row_id: int | None = None,
    along: Callable[[AuditRecord], list[Write]] | None = None,
) -> AuditRecord:
    """A transition, written: the application's changed columns (its version checked and moved on) and its row of
    the trail, hash-chained like every other. The caller holds the application's row lock (``SELECT … FOR
    UPDATE``), so the chain's head cannot move under it. On PostgreSQL the UPDATE and the INSERT are one statement
    (the INSERT takes its row from the UPDATE's, so a lost version check inserts nothing); elsewhere two.

    ``head``: the trail's last hash, if the caller read it after taking the lock (else it is read here).
    ``along``: what else the move writes (its notifications, its reminders), given the audit row. On PostgreSQL
    those writes go in the move's own statement, each gated on the move's version check (``MOVE_GATE``), and the
    audit row takes the id ``row_id`` (taken beforehand by ``before_move``; else taken here); elsewhere they run
    after the move, one by one.

    A version check that fails raises ``StaleDataError``, as the ORM's own flush would: the request answers 409 and
    nothing is written. The application object is left as if flushed (its new version included)."""
    session = db.session
    with session.no_autoflush:  # the application's changes go out below, with the audit row, not in a flush
        return _record_move(session, app, actor, trigger, from_state, at, comment, snapshot, head, row_id, along)


def _record_move(
    session: Session,
    app: Application,
    actor: User,
    trigger: str,
    from_state: str,
    at: datetime,
    comment: str | None,
    snapshot: dict[str, Any] | None,
    head: str | None,
    row_id: int | None,
    along: Callable[[AuditRecord], list[Write]] | None,
) -> AuditRecord:
    prev = head if head is not None else _head(app.id, locked=True)
    fields = _row_fields(app, actor, trigger, from_state, at, comment, snapshot)
    values = {**fields, "prev_hash": prev, "row_hash": row_hash(fields, prev)}
    changes = _unflushed_columns(app)
    version = app.version
    params = {
        "move_id": app.id,
        "move_version": version,
        "set_version": version + 1,
        **{f"set_{name}": value for name, value in changes.items()},
        **{f"row_{name}": value for name, value in values.items()},
    }
    together = is_postgres()
    writes: list[Write] = []
    if together:
        if row_id is None:
            row_id = session.scalar(select(NEXT_ROW_ID))
        row = AuditRecord(id=row_id, **values)
        writes = along(row) if along else []
        for write in writes:
            # a value named like a column would be taken by SQLAlchemy as one more column to SET in every UPDATE
            # of the statement (and a name used twice would get one value)
            clash = (params.keys() | _column_names()) & write.params.keys()
            if clash:
                raise ValueError(f"a write along the move names its values like others or like columns: {clash}")
            params.update(write.params)
        params["row_id"] = row_id
        move = _move_with(tuple(changes), tuple(write.gated for write in writes))
        new_id = session.execute(move, params).scalar()
    else:
        new_id = None
        if session.execute(_version_checked_update(tuple(changes)), params).rowcount == 1:
            new_id = session.execute(_INSERT_AUDIT, values).inserted_primary_key[0]
    if new_id is None:
        raise StaleDataError(f"application {app.id}: version {version} was changed by someone else")
    if not together:
        row = AuditRecord(id=new_id, **values)
        for write in along(row) if along else []:
            session.execute(write.plain, write.params)
    for key, value in changes.items():
        set_committed_value(app, key, value)
    set_committed_value(app, "version", version + 1)
    state = inspect(app)
    if not any(state.attrs[rel.key].history.has_changes() for rel in state.mapper.relationships):
        # nothing of it is left to write: off the session's list of modified objects, as after a flush (otherwise
        # every later flush of the request walks the ORM's unit of work to find nothing to do)
        state._commit_all(state.dict, session.identity_map)
    make_transient_to_detached(row)  # written above: the session holds it as loaded, with nothing to flush
    session.add(row)
    session.info.setdefault(_TAILS, {})[app.id] = row
    return row


_APPLICATIONS = Application.__table__
_AUDIT = AuditRecord.__table__
_INSERT_AUDIT = insert(_AUDIT)
_AUDIT_COLUMNS = (*_ROW_CONTENT, "prev_hash", "row_hash")
# the id of the next audit row, taken ahead so the writes of a move can name it (``before_move`` reads it)
NEXT_ROW_ID = Sequence("audit_records_id_seq").next_value()

# True, on the snapshot a statement reads, exactly when the move in that statement writes: the application is still at
# the version it was read at. (The caller holds the row lock, so nobody else can change it before the UPDATE does.)
# A write that goes in the move's own statement carries it, so that a lost version check writes nothing at all.
MOVE_GATE = exists().where(
    _APPLICATIONS.c.id == bindparam("move_id", type_=Integer),
    _APPLICATIONS.c.version == bindparam("move_version", type_=Integer),
)


@dataclass(frozen=True)
class Write:
    """A statement a transition writes with its move: ``plain`` to run after it, ``gated`` (the same, with
    ``MOVE_GATE``) to run inside its statement; both built once, with these bound values (rows of an executemany
    for ``plain`` only, where the writes run after the move)."""

    plain: Executable
    gated: Executable
    params: dict[str, Any] | list[dict[str, Any]]


@cache
def _column_names() -> frozenset[str]:
    """Every table's column names (asked once all models are imported: at the first move)."""
    return frozenset(column.name for table in db.metadata.tables.values() for column in table.columns)


_TOGETHER: dict[tuple[tuple[str, ...], tuple[int, ...]], tuple[tuple[Executable, ...], Executable]] = {}


def _move_with(columns: tuple[str, ...], writes: tuple[Executable, ...]) -> Executable:
    """PostgreSQL: the move, its audit row (under the id reserved for it, ``row_id``) and these gated writes, as one
    statement; each write a data-modifying CTE of it. Built once per set of columns and writes."""
    key = (columns, tuple(id(w) for w in writes))
    if key not in _TOGETHER:
        moved = _version_checked_update(columns).returning(_APPLICATIONS.c.id).cte("moved")
        row = select(
            bindparam("row_id", type_=Integer),
            *(bindparam(f"row_{c}", type_=_AUDIT.c[c].type) for c in _AUDIT_COLUMNS),
        ).select_from(moved)
        statement = (
            insert(_AUDIT)
            .from_select(["id", *_AUDIT_COLUMNS], row)
            .returning(_AUDIT.c.id)
            .add_cte(moved, *(write.cte(f"along_{n}") for n, write in enumerate(writes)))
        )
        _TOGETHER[key] = (writes, statement)  # the writes kept: their ids stay theirs while the key holds them
    return _TOGETHER[key][1]


def _version_checked_update(columns: tuple[str, ...]) -> Update:
    return (
        update(_APPLICATIONS)
        .where(_APPLICATIONS.c.id == bindparam("move_id"), _APPLICATIONS.c.version == bindparam("move_version"))
        .values({**{name: bindparam(f"set_{name}") for name in columns}, "version": bindparam("set_version")})
    )


def _row_fields(
    app: Application,
    actor: User,
    event: str,
    from_state: str,
    at: datetime,
    comment: str | None,
    snapshot: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "application_id": app.id,
        "trigger": event,
        "from_state": from_state,
        "to_state": app.state,
        "actor_id": actor.id,
        "actor_role": actor.role,
        "comment": comment,
        "revision_round": app.revision_round,
        # as stored and read back (JSON), so the hash is over what the database keeps
        "snapshot": json.loads(json.dumps(snapshot or {}, default=str)),
        "at": at,
    }


def _unflushed_columns(app: Application) -> dict[str, Any]:
    """The application's columns set since it was loaded or last written, by column name."""
    state = inspect(app)
    changes = {}
    for prop in state.mapper.column_attrs:
        added = state.attrs[prop.key].history.added
        if added and prop.key != "version":
            changes[prop.columns[0].name] = added[0]
    return changes


_TAILS = "kxflow_audit_tails"


def appended_last(application_id: int) -> AuditRecord | None:
    """The row this transaction appended last to the application's trail, or None if it appended none. While the
    transaction runs nobody else can append to that trail (``append`` takes the application's row lock first), so
    this row is the trail's last: what a caller would otherwise read back with a query."""
    return db.session.info.get(_TAILS, {}).get(application_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_tails(session: Session, transaction: SessionTransaction) -> None:
    """Committed or rolled back (a savepoint too), the rows appended are no longer known to be the last."""
    session.info.pop(_TAILS, None)


@dataclass(frozen=True)
class Break:
    application_id: int | None
    record_id: int
    problem: str  # "content": the row does not match its hash; "link": it does not follow the row before it


def verify() -> Iterator[Break]:
    """Walks every trail in order; yields the first broken link of each broken trail."""
    current: int | None = -1
    expected = GENESIS
    broken = False
    stmt = select(AuditRecord).order_by(AuditRecord.application_id, AuditRecord.id).execution_options(yield_per=1000)
    for row in db.session.scalars(stmt):
        if row.application_id != current:
            current, expected, broken = row.application_id, GENESIS, False
        if broken:
            continue
        if row.prev_hash != expected:
            broken = True
            yield Break(row.application_id, row.id, "link")
        elif row.row_hash != row_hash(_fields(row), row.prev_hash):
            broken = True
            yield Break(row.application_id, row.id, "content")
        expected = row.row_hash
