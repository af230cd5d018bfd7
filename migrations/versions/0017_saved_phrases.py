"""常用意见: each user's saved review phrases

Revision ID: 0017
Revises: 0011
Create Date: 2026-11-29 09:30:00
"""
from alembic import op
import sqlalchemy as sa

import kxflow.core.types

revision = '0017'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_phrases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('created_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_saved_phrases_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_phrases')),
    sa.UniqueConstraint('user_id', 'text', name=op.f('uq_saved_phrases_user_id_text'))
    )
    with op.batch_alter_table('saved_phrases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_phrases_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('saved_phrases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_phrases_user_id'))
    op.drop_table('saved_phrases')
