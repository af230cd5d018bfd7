"""Application, its append-only audit trail and its attachments.

The state lives in a column checked against the workflow's states; ``version`` makes a
concurrent second writer fail instead of silently overwriting the first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kxflow.accounts.models import User
from kxflow.core import clock
from kxflow.core.db import db
from kxflow.core.types import UTCDateTime
from kxflow.regions.models import County
from kxflow.workflow.states import NOT_LIVE, STATE_NAMES, State

if TYPE_CHECKING:
    from kxflow.calls.models import Call  # the call is read by name: calls sit above the workflow

_STATES_SQL = ", ".join(f"'{s.value}'" for s in STATE_NAMES)
# (state, the date column it implies, the constraint's name)
STATE_DATES = (
    (State.PUBLICITY, "publicity_ends_at", "publicity_has_end"),
    (State.DESIGNATED, "designated_at", "designated_has_date"),
    (State.RECTIFICATION, "rectification_due", "rectification_has_deadline"),
    (State.REVOKED, "revoked_at", "revoked_has_date"),
)


class Application(db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES_SQL})", name="state_known"),
        CheckConstraint("revision_round >= 0", name="revision_round_not_negative"),
        # a stage carries the dates it implies
        *(
            CheckConstraint(f"state <> '{state.value}' OR {column} IS NOT NULL", name=name)
            for state, column, name in STATE_DATES
        ),
        CheckConstraint(
            f"state NOT IN ('{State.RECTIFICATION.value}', '{State.REVOKED.value}') OR designated_at IS NOT NULL",
            name="was_designated",
        ),
        # the province is kept on the row for scope and quota queries; the composite key keeps
        # it equal to the county's own province
        ForeignKeyConstraint(
            ["county_code", "province_code"],
            ["counties.code", "counties.province_code"],
            name="fk_applications_county_province",
        ),
        # one live application per county per call; a withdrawn one does not block a new one
        Index(
            "uq_applications_live_per_county_call",
            "call_id",
            "county_code",
            unique=True,
            postgresql_where=text(f"state <> '{NOT_LIVE.value}'"),
            sqlite_where=text(f"state <> '{NOT_LIVE.value}'"),
        ),
        Index("ix_applications_call_province_state", "call_id", "province_code", "state"),
        CheckConstraint(f"overdue_since IS NULL OR state = '{State.DRAFT.value}'", name="overdue_only_in_draft"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))  # indexed first in ix_applications_call_province_state
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    province_code: Mapped[str] = mapped_column(String(6), index=True)
    state: Mapped[str] = mapped_column(String(20), default=State.DRAFT.value, index=True)
    indicators: Mapped[dict] = mapped_column(JSON, default=dict)
    computed: Mapped[dict] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    veto_failures: Mapped[list] = mapped_column(JSON, default=list)
    revision_round: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    designated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # re-checks count from here
    publicity_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the notice window's end
    rectification_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the stage it is at is due: the call's deadline at county and province level (or this
    # application's own extension or return grace), the expert-review period, the inspection day,
    # the notice's end, the rectification deadline; and the level's working-day time limit
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    time_limit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 逾期未提交: a draft still unsent when its due date passed (a flag, not a stage); cleared on reopening
    overdue_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the county's 联系人 and 联系电话 for this application (whom the province or ministry calls)
    contact_name: Mapped[str] = mapped_column(String(50), default="", server_default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")

    call: Mapped[Call] = relationship("Call", lazy="joined")
    county: Mapped[County] = relationship(
        lazy="joined", foreign_keys=[county_code], primaryjoin="County.code == Application.county_code"
    )

    __mapper_args__ = {"version_id_col": version}


class AuditRecord(db.Model):
    """Who moved which application from where to where, when and why. Never updated or deleted; each row is
    chained to the one before it in its application's trail (see ``workflow.audit``)."""

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("application_id", "prev_hash", name="uq_audit_records_one_successor"),
        # the statistics: a trail in time order, events by year, stages reached
        Index("ix_audit_records_application_at", "application_id", "at"),
        Index("ix_audit_records_trigger_at", "trigger", "at"),
        Index("ix_audit_records_to_state_application", "to_state", "application_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))  # ix_audit_records_application_at
    trigger: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    revision_round: Mapped[int] = mapped_column(Integer, default=0)
    # the application as it stood when it moved (a returned version stays readable)
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User] = relationship(lazy="joined")


class Attachment(db.Model):
    __tablename__ = "attachments"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # replaced or removed while in draft: kept for the record, no longer part of the application
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
