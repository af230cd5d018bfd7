"""What a transition reads once it holds the application's row lock — the claim on it, the last hash of its trail,
its current attachments, and an id for the audit row it will write — in one statement on PostgreSQL.

Read after the lock, not folded into the locking SELECT: that statement's other reads would show the rows as they
were before it waited for the lock (a claim taken meanwhile, a row appended to the trail)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Sequence, bindparam, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from kxflow.core.db import db, is_postgres
from kxflow.workflow import holders
from kxflow.workflow.audit import GENESIS
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


def read_before_move(app: Application) -> BeforeMove:
    if not is_postgres():
        return BeforeMove(holders.claim_row(app))
    row = db.session.execute(_READ, {"application_id": app.id}).one()
    return BeforeMove(
        claim=row.TaskHolder,
        head=row.head or GENESIS,
        attachments=list(zip(row.attachment_ids or [], row.attachment_kinds or [], strict=True)),
        row_id=row.row_id,
    )


def _current_attachments(column):
    return (
        select(func.array_agg(aggregate_order_by(column, Attachment.id)))
        .where(Attachment.application_id == Application.id, Attachment.superseded_at.is_(None))
        .scalar_subquery()
    )


_READ = (
    select(
        TaskHolder,
        select(AuditRecord.row_hash)
        .where(AuditRecord.application_id == Application.id)
        .order_by(AuditRecord.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("head"),
        _current_attachments(Attachment.id).label("attachment_ids"),
        _current_attachments(Attachment.kind).label("attachment_kinds"),
        Sequence("audit_records_id_seq").next_value().label("row_id"),
    )
    .select_from(Application)
    .outerjoin(TaskHolder, TaskHolder.application_id == Application.id)
    .where(Application.id == bindparam("application_id"))
    .options(*holders.UNJOINED)
)
