"""working days and due dates on their rows, extensions and close-out, rectification reports, inspections called
off, the holiday schedules kxflow keeps, and the append-only record of call changes

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-29 10:00:00

``applications.due_at`` (when the present stage is due), ``applications.time_limit_at`` (the level's
working-day time limit) and ``applications.overdue_since`` (逾期未提交) are the due dates the reports group
on. ``call_changes`` is append-only like ``audit_records``: a trigger refuses UPDATE and DELETE.
"""
from alembic import op
import sqlalchemy as sa

import kxflow.core.types

revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None

KINDS_BEFORE = (
    "'county_deadline', 'province_deadline', 'sla', 'escalation', 'press', 'inspection_soon', "
    "'inspection_overdue', 'publicity_end', 'expert_due'"
)
NEW_KINDS = "'closeout', 'rectification_due', 'rectification_passed'"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _append_only(table: str) -> None:
    if _sqlite():
        for action in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"""
        CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '{table} is append-only' USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def _drop_append_only(table: str) -> None:
    if _sqlite():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")


def upgrade():
    op.create_table('holiday_years',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=False),
    sa.Column('entered_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('year >= 2000 AND year <= 2100', name=op.f('ck_holiday_years_year_in_range')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_holiday_years_entered_by_id_users')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_holiday_years'))
    )
    op.create_table('call_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('create', 'update', 'close')", name=op.f('ck_call_changes_action_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_call_changes_actor_id_users')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_changes_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_changes'))
    )
    with op.batch_alter_table('call_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_changes_call_id'), ['call_id'], unique=False)

    op.create_table('holiday_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=4), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.CheckConstraint("kind IN ('rest', 'work')", name=op.f('ck_holiday_days_kind_known')),
    sa.ForeignKeyConstraint(['year'], ['holiday_years.year'], name=op.f('fk_holiday_days_year_holiday_years'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_holiday_days'))
    )
    with op.batch_alter_table('holiday_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holiday_days_year'), ['year'], unique=False)

    op.create_table('rectification_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('submitted_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_rectification_reports_application_id_applications')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_rectification_reports_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_reports'))
    )
    with op.batch_alter_table('rectification_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_reports_application_id'), ['application_id'], unique=False)

    op.create_table('rectification_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_rectification_files_not_empty')),
    sa.ForeignKeyConstraint(['report_id'], ['rectification_reports.id'], name=op.f('fk_rectification_files_report_id_rectification_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_files')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_rectification_files_stored_name'))
    )
    with op.batch_alter_table('rectification_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_files_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('time_limit_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('overdue_since', kxflow.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_applications_due_at'), ['due_at'], unique=False)
    with op.batch_alter_table('applications', recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.create_check_constraint('overdue_only_in_draft', "overdue_since IS NULL OR state = 'draft'")

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_grace_days', sa.Integer(), server_default='5', nullable=False))
        batch_op.add_column(sa.Column('revoked_wait_years', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('closed_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('calls', recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.create_check_constraint('rules_in_range', 'return_grace_days >= 1 AND revoked_wait_years >= 0')

    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', kxflow.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=500), nullable=True))
    with op.batch_alter_table('inspections', recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.create_check_constraint('cancel_has_reason', 'cancelled_at IS NULL OR cancel_reason IS NOT NULL')
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_reminders_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', f"kind IN ({KINDS_BEFORE}, {NEW_KINDS})")
    # the stages under way get the due dates they stand by (the level's time limit comes with the next move)
    for states, column in (
        ("'draft', 'county_review'", 'calls.county_deadline'),
        ("'province_review'", 'calls.province_deadline'),
    ):
        op.execute(
            f"UPDATE applications SET due_at = (SELECT {column} FROM calls WHERE calls.id = applications.call_id) "
            f"WHERE state IN ({states})"
        )
    op.execute("UPDATE applications SET due_at = publicity_ends_at WHERE state = 'publicity'")
    op.execute("UPDATE applications SET due_at = rectification_due WHERE state = 'rectification'")
    _append_only('call_changes')



def downgrade():
    _drop_append_only('call_changes')
    op.execute(f"DELETE FROM reminders WHERE kind IN ({NEW_KINDS})")
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_reminders_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', f"kind IN ({KINDS_BEFORE})")
    with op.batch_alter_table('inspections', recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.drop_constraint(op.f('ck_inspections_cancel_has_reason'), type_='check')
    with op.batch_alter_table('calls', recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_rules_in_range'), type_='check')
    with op.batch_alter_table('applications', recreate='always' if _sqlite() else 'auto') as batch_op:
        batch_op.drop_constraint(op.f('ck_applications_overdue_only_in_draft'), type_='check')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('closed_at')
        batch_op.drop_column('revoked_wait_years')
        batch_op.drop_column('return_grace_days')

    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_due_at'))
        batch_op.drop_column('overdue_since')
        batch_op.drop_column('time_limit_at')
        batch_op.drop_column('due_at')

    with op.batch_alter_table('rectification_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_files_report_id'))

    op.drop_table('rectification_files')
    with op.batch_alter_table('rectification_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_reports_application_id'))

    op.drop_table('rectification_reports')
    with op.batch_alter_table('holiday_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holiday_days_year'))

    op.drop_table('holiday_days')
    with op.batch_alter_table('call_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_changes_call_id'))

    op.drop_table('call_changes')
    op.drop_table('holiday_years')
