"""the audit trail chained: each row's hash over its content and the row before it in its application's trail;
the database also refuses TRUNCATE of it

Revision ID: 0010b
Revises: 0010
Create Date: 2026-11-29 07:30:00

Existing rows are chained in id order (the app is stopped while migrations run). SQLite rebuilds the table
to add the NOT NULL columns, which drops its triggers: they are created again here.
"""
from alembic import op
import sqlalchemy as sa

from kxflow.workflow.audit import GENESIS, row_hash

revision = '0010b'
down_revision = '0010'
branch_labels = None
depends_on = None

COLUMNS = ("application_id", "trigger", "from_state", "to_state", "actor_id", "actor_role", "comment",
           "revision_round", "snapshot", "at")


def upgrade():
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
    if postgres:
        op.execute("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_delete")
    _chain_existing(bind)
    if postgres:
        op.execute("ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only")
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_audit_records_one_successor', ['application_id', 'prev_hash'])
    if postgres:
        op.execute(
            "CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only()"
        )
    else:
        _sqlite_triggers()


def _chain_existing(bind):
    audit = sa.table('audit_records', sa.column('id'), *(sa.column(c) for c in COLUMNS),
                     sa.column('prev_hash'), sa.column('row_hash'))
    from kxflow.core.types import UTCDateTime
    audit.c.at.type = UTCDateTime()
    audit.c.snapshot.type = sa.JSON()
    heads = {}
    rows = bind.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    for row in rows:
        prev = heads.get(row["application_id"], GENESIS)
        digest = row_hash(dict(row), prev)
        bind.execute(sa.update(audit).where(audit.c.id == row["id"]).values(prev_hash=prev, row_hash=digest))
        heads[row["application_id"]] = digest


def _sqlite_triggers():
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_records_no_{action.lower()} BEFORE {action} ON audit_records "
            "BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END"
        )


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records")
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_records_one_successor', type_='unique')
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
    if bind.dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_delete")
        _sqlite_triggers()
