"""work done by people, not only roles: who holds an application at its stage (认领, 转办, 委派), deputies for a
date range, copies of a step (抄送), and the lead flag an administrator sets

Revision ID: 0011
Revises: 0010b
Create Date: 2026-11-29 09:18:42
"""
from alembic import op
import sqlalchemy as sa

import kxflow.core.types


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deputies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('deputy_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('deputy_id <> user_id', name=op.f('ck_deputies_not_oneself')),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_deputies_range_in_order')),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], name=op.f('fk_deputies_deputy_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_deputies_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deputies'))
    )
    with op.batch_alter_table('deputies', schema=None) as batch_op:
        batch_op.create_index('ix_deputies_deputy_range', ['deputy_id', 'starts_on', 'ends_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_deputies_user_id'), ['user_id'], unique=False)

    op.create_table('task_holders',
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('since', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=True),
    sa.Column('delegated_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('delegate_id IS NULL OR delegate_id <> holder_id', name=op.f('ck_task_holders_delegate_not_holder')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_task_holders_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['delegate_id'], ['users.id'], name=op.f('fk_task_holders_delegate_id_users')),
    sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_task_holders_holder_id_users')),
    sa.PrimaryKeyConstraint('application_id', name=op.f('pk_task_holders'))
    )
    with op.batch_alter_table('task_holders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_holders_delegate_id'), ['delegate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_holders_holder_id'), ['holder_id'], unique=False)

    op.create_table('carbon_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('created_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_carbon_copies_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['audit_id'], ['audit_records.id'], name=op.f('fk_carbon_copies_audit_id_audit_records')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_carbon_copies_recipient_id_users')),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], name=op.f('fk_carbon_copies_sender_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carbon_copies')),
    sa.UniqueConstraint('audit_id', 'recipient_id', name='uq_carbon_copies_once')
    )
    with op.batch_alter_table('carbon_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_carbon_copies_application_id'), ['application_id'], unique=False)
        batch_op.create_index('ix_carbon_copies_recipient_read', ['recipient_id', 'read_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_lead', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_lead')

    with op.batch_alter_table('carbon_copies', schema=None) as batch_op:
        batch_op.drop_index('ix_carbon_copies_recipient_read')
        batch_op.drop_index(batch_op.f('ix_carbon_copies_application_id'))

    op.drop_table('carbon_copies')
    with op.batch_alter_table('task_holders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_holders_holder_id'))
        batch_op.drop_index(batch_op.f('ix_task_holders_delegate_id'))

    op.drop_table('task_holders')
    with op.batch_alter_table('deputies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deputies_user_id'))
        batch_op.drop_index('ix_deputies_deputy_range')

    op.drop_table('deputies')
