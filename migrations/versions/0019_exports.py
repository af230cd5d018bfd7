"""long exports: who asked, the filters, the worker's progress and the file it left

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 09:30:00
"""
import sqlalchemy as sa
from alembic import op

import kxflow.core.types

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('exports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_exports_status_known')),
    sa.CheckConstraint('progress >= 0 AND progress <= 100', name=op.f('ck_exports_progress_percent')),
    sa.CheckConstraint("status <> 'done' OR (stored_name IS NOT NULL AND progress = 100)",
                       name=op.f('ck_exports_done_has_file')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_exports_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_exports_stored_name'))
    )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exports_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exports_user_id'))
    op.drop_table('exports')
