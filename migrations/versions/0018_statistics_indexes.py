"""indexes for the statistics: an application's trail in time order (stays per stage), the trail by trigger
and year (designations over the years), and stage reached by the funnel

Revision ID: 0018
Revises: 0020
Create Date: 2026-11-29 09:30:00
"""
from alembic import op

revision = '0018'
down_revision = '0020'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_audit_records_application_at', ['application_id', 'at']),
    ('ix_audit_records_trigger_at', ['trigger', 'at']),
    ('ix_audit_records_to_state_application', ['to_state', 'application_id']),
)


def upgrade():
    for name, columns in INDEXES:
        op.create_index(name, 'audit_records', columns)


def downgrade():
    for name, _ in INDEXES:
        op.drop_index(name, table_name='audit_records')
