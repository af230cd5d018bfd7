"""the county's 联系人 and 联系电话 on its application

Revision ID: 0016
Revises: 0019
Create Date: 2026-11-29 09:30:00

Plain ADD COLUMNs with a constant default (no table rebuild on SQLite, so the triggers stay).
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0019'
branch_labels = None
depends_on = None

COLUMNS = (('contact_name', 50), ('contact_phone', 40))


def upgrade():
    for name, length in COLUMNS:
        op.add_column('applications', sa.Column(name, sa.String(length), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('applications') as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
