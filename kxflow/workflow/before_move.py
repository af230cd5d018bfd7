"""What a transition reads once it holds the application's row lock — the claim on it, the last hash of its trail,
its current attachments, an id for the audit row it will write, and its call and county (the lock loads the row
alone) — in one statement on PostgreSQL.

Read after the lock, not folded into the locking SELECT: that statement's other reads would show the rows as they
were before it waited for the lock (a claim taken meanwhile, a row appended to the trail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import Select, bindparam, func, inspect, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import LoaderOption

from kxflow.core.db import db, is_postgres
from kxflow.workflow import holders
from kxflow.workflow.audit import GENESIS, NEXT_ROW_ID
from kxflow.workflow.guards import LOCKED_FACTS
from kxflow.workflow.holders import TaskHolder
from kxflow.workflow.models import Application, Attachment, AuditRecord


@dataclass(frozen=True)
class BeforeMove:
    """``claim``: the claim row, of whichever stage (``holders.claim_row``). The others are None where they are
    read later, one statement each (not PostgreSQL): ``head`` at the move, ``attachments`` by the guards, and
    ``row_id`` is given by the INSERT."""

    claim: TaskHolder | None
    head: str | None = None
    attachments: list[tuple[int, str]] | None = None
    row_id: int | None = None
    facts: dict[str, tuple] = field(default_factory=dict)  # what the guards read, by key (``LOCKED_FACTS``)


def lock_options() -> tuple[LoaderOption, ...]:
    """For the locking SELECT of the application: on PostgreSQL its call and county are left to ``read_before_move``
    (which puts them in the session, where the application finds them), so the lock reads one row of one table."""
    return _REFERENCES_LATER if is_postgres() else ()


_REFERENCES_LATER = (lazyload(Application.call), lazyload(Application.county))  # built once


def read_before_move(app: Application, guards: tuple[str, ...] = ()) -> BeforeMove:
    """``guards``: the guards the transition will ask; the facts they read with the lock come in the same statement."""
    if not is_postgres():
        return BeforeMove(holders.claim_row(app))
    facts = tuple(dict.fromkeys(LOCKED_FACTS[name] for name in guards if name in LOCKED_FACTS))
    statement, widths = _read(facts)
    row = db.session.execute(statement, {"application_id": app.id}).one()
    # given to the application as loaded (a lazy load of a row locked with populate_existing would read them again)
    set_committed_value(app, "call", row[1])
    set_committed_value(app, "county", row[2])
    return BeforeMove(
        claim=row.TaskHolder,
        head=row.head or GENESIS,
        attachments=list(zip(row.attachment_ids or [], row.attachment_kinds or [], strict=True)),
        row_id=row.row_id,
        facts=_facts([key for key, _build in facts], widths, row[_FIXED_COLUMNS:]),
    )


def _facts(keys: list[str], widths: tuple[int, ...], values: tuple) -> dict[str, tuple]:
    out = {}
    for key, width in zip(keys, widths, strict=True):
        out[key], values = tuple(values[:width]), values[width:]
    return out


def _current_attachments(column):
    return (
        select(func.array_agg(aggregate_order_by(column, Attachment.id)))
        .where(Attachment.application_id == Application.id, Attachment.superseded_at.is_(None))
        .scalar_subquery()
    )


_FIXED_COLUMNS = 7  # the claim, the call, the county, the head, the attachments' ids and kinds, the audit row's id


@cache
def _read(facts: tuple[tuple[str, Callable], ...]) -> tuple[Select, tuple[int, ...]]:
    """The statement, and how many of its last columns each fact takes. Built once per set of facts, at its first
    transition (the call and county are reached through the application's relationships: the calls feature sits
    above the workflow, which names no class of it)."""
    relationships = inspect(Application).relationships
    columns = [build() for _key, build in facts]
    statement = (
        select(
            TaskHolder,
            relationships["call"].entity.class_,
            relationships["county"].entity.class_,
            select(AuditRecord.row_hash)
            .where(AuditRecord.application_id == Application.id)
            .order_by(AuditRecord.id.desc())
            .limit(1)
            .scalar_subquery()
            .label("head"),
            _current_attachments(Attachment.id).label("attachment_ids"),
            _current_attachments(Attachment.kind).label("attachment_kinds"),
            NEXT_ROW_ID.label("row_id"),
            *(column for fact in columns for column in fact),
        )
        .select_from(Application)
        .join(Application.call)
        .join(Application.county)
        .outerjoin(TaskHolder, TaskHolder.application_id == Application.id)
        .where(Application.id == bindparam("application_id"))
        .options(*holders.UNJOINED)
    )
    return statement, tuple(len(fact) for fact in columns)
