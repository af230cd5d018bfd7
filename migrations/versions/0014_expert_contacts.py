"""an expert's 工作单位, 职称 and 联系电话 in the pool

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-29 07:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None

COLUMNS = (('organisation', 120), ('title', 40), ('phone', 40))


def upgrade():
    with op.batch_alter_table('expert_profiles') as batch:
        for name, length in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('expert_profiles') as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
