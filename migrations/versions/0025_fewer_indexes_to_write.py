"""indexes a transition writes for nothing: the trail's and the notifications' single-column indexes repeat the first
column of a composite one, so does the applications' call index; the reminders' inspection index holds only rows of
an inspection (most reminders have none)

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-29 19:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_OF_AN_INSPECTION = sa.text("inspection_id IS NOT NULL")


def upgrade():
    op.drop_index('ix_audit_records_application_id', table_name='audit_records')
    op.drop_index('ix_notifications_recipient_id', table_name='notifications')
    op.drop_index('ix_applications_call_id', table_name='applications')
    op.drop_index('ix_reminders_inspection_id', table_name='reminders')
    op.create_index(
        'ix_reminders_inspection_id',
        'reminders',
        ['inspection_id'],
        postgresql_where=_OF_AN_INSPECTION,
        sqlite_where=_OF_AN_INSPECTION,
    )


def downgrade():
    op.drop_index('ix_reminders_inspection_id', table_name='reminders')
    op.create_index('ix_reminders_inspection_id', 'reminders', ['inspection_id'])
    op.create_index('ix_applications_call_id', 'applications', ['call_id'])
    op.create_index('ix_notifications_recipient_id', 'notifications', ['recipient_id'])
    op.create_index('ix_audit_records_application_id', 'audit_records', ['application_id'])
