"""long exports: the worker's heartbeat, so an export whose worker died is seen as stalled

Revision ID: 0024
Revises: 0016
Create Date: 2026-11-29 13:00:00
"""
import sqlalchemy as sa
from alembic import op

import kxflow.core.types

revision = '0024'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
