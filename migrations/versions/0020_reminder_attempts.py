"""a reminder whose sending fails is retried with backoff and given up after a number of attempts

Revision ID: 0020
Revises: 0017
Create Date: 2026-11-29 09:30:00
"""

import sqlalchemy as sa
from alembic import op

from kxflow.core.types import UTCDateTime

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None

# at most one end: sent, cancelled or given up
ONE_END = (
    "(sent_at IS NULL OR cancelled_at IS NULL) AND (failed_at IS NULL OR (sent_at IS NULL AND cancelled_at IS NULL))"
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade():
    with op.batch_alter_table("reminders", recreate="always" if _sqlite() else "auto") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failed_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.drop_constraint(op.f("ck_reminders_sent_or_cancelled"), type_="check")
        batch.create_check_constraint("sent_cancelled_or_failed", ONE_END)


def downgrade():
    with op.batch_alter_table("reminders", recreate="always" if _sqlite() else "auto") as batch:
        batch.drop_constraint(op.f("ck_reminders_sent_cancelled_or_failed"), type_="check")
        batch.create_check_constraint("sent_or_cancelled", "sent_at IS NULL OR cancelled_at IS NULL")
        for name in ("last_error", "failed_at", "next_attempt_at", "attempts"):
            batch.drop_column(name)
