"""a stage carries the dates it implies (CHECKs on applications); the calls' period CHECKs on SQLite too

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:00:00

On SQLite a CHECK is added by rebuilding the table; env.py turns foreign-key enforcement off for
the rebuild and checks afterwards that no row refers to nothing.
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

STATE_CHECKS = {
    'publicity_has_end': "state <> 'publicity' OR publicity_ends_at IS NOT NULL",
    'designated_has_date': "state <> 'designated' OR designated_at IS NOT NULL",
    'rectification_has_deadline': "state <> 'rectification' OR rectification_due IS NOT NULL",
    'revoked_has_date': "state <> 'revoked' OR revoked_at IS NOT NULL",
    'was_designated': "state NOT IN ('rectification', 'revoked') OR designated_at IS NOT NULL",
}
# added on PostgreSQL by 0007; SQLite gets them here, now that its rebuild is safe
CALL_CHECKS = {
    'periods_positive': 'publicity_days >= 1 AND rectification_days >= 1 AND expert_review_days >= 1',
    'score_gap_positive': 'score_gap > 0',
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade():
    with op.batch_alter_table('applications', recreate='always' if _sqlite() else 'auto') as batch_op:
        for name, condition in STATE_CHECKS.items():
            batch_op.create_check_constraint(name, condition)
    if _sqlite():
        with op.batch_alter_table('calls', recreate='always') as batch_op:
            for name, condition in CALL_CHECKS.items():
                batch_op.create_check_constraint(name, condition)


def downgrade():
    if _sqlite():
        with op.batch_alter_table('calls', recreate='always') as batch_op:
            for name in CALL_CHECKS:
                batch_op.drop_constraint(op.f(f'ck_calls_{name}'), type_='check')
    with op.batch_alter_table('applications', recreate='always' if _sqlite() else 'auto') as batch_op:
        for name in STATE_CHECKS:
            batch_op.drop_constraint(op.f(f'ck_applications_{name}'), type_='check')
