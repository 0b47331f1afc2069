"""payout approval: batches of what a run would push, their entries as built, and an append-only
audit table (triggers refuse UPDATE and DELETE on SQLite and PostgreSQL)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = "payout_audit is append-only"


def upgrade() -> None:
    op.create_table(
        'payout_batches',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('program', sa.String(length=64), nullable=False),
        sa.Column('run_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('approvals_needed', sa.Integer(), nullable=False),
        sa.Column('payout_currency', sa.String(length=3), nullable=False),
        sa.Column('payout_out_minor', sa.BigInteger(), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_batches')),
    )
    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_batches_program'), ['program'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_batches_status'), ['status'], unique=False)
    op.create_table(
        'payout_batch_entries',
        sa.Column('batch_id', sa.String(length=32), nullable=False),
        sa.Column('entry_key', sa.String(length=200), nullable=False),
        sa.Column('partnership_key', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('payout_amount_minor', sa.BigInteger(), nullable=True),
        sa.Column('payout_currency', sa.String(length=3), nullable=True),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('batch_id', 'entry_key', name=op.f('pk_payout_batch_entries')),
    )
    with op.batch_alter_table('payout_batch_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_batch_entries_entry_key'), ['entry_key'], unique=False)
    op.create_table(
        'payout_audit',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('program', sa.String(length=64), nullable=False),
        sa.Column('batch_id', sa.String(length=32), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('run_id', sa.String(length=36), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_audit')),
    )
    with op.batch_alter_table('payout_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_audit_batch_id'), ['batch_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE FUNCTION payout_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER payout_audit_append_only BEFORE UPDATE OR DELETE ON payout_audit "
            "FOR EACH ROW EXECUTE FUNCTION payout_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER payout_audit_no_truncate BEFORE TRUNCATE ON payout_audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION payout_audit_append_only()"
        )
    else:
        for verb in ('UPDATE', 'DELETE'):
            op.execute(
                f"CREATE TRIGGER payout_audit_no_{verb.lower()} BEFORE {verb} ON payout_audit "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS payout_audit_no_truncate ON payout_audit")
        op.execute("DROP TRIGGER IF EXISTS payout_audit_append_only ON payout_audit")
        op.execute("DROP FUNCTION IF EXISTS payout_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS payout_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS payout_audit_no_delete")
    with op.batch_alter_table('payout_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_audit_batch_id'))
    op.drop_table('payout_audit')
    with op.batch_alter_table('payout_batch_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_batch_entries_entry_key'))
    op.drop_table('payout_batch_entries')
    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_batches_status'))
        batch_op.drop_index(batch_op.f('ix_payout_batches_program'))
    op.drop_table('payout_batches')
