"""quarantine rows say why in a code (`reason`), which billing customer or partner they hold
(`customer_id`, `partner_key`), when the change clock saw them (`changed_seq`, so an incremental
compute applies or lifts their holds), and whether they resolved (`resolved_at`, `resolved_run_id`);
parked records count their retries (`attempts`, `last_attempt_at`)


Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connector.store.models

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('customer_id', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('partner_key', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('changed_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', connector.store.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolved_run_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_attempt_at', connector.store.models.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_quarantine_source_id'), ['source', 'source_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantine_changed_seq'), ['changed_seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantine_resolved_at'), ['resolved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_quarantine_changed_seq'))
        batch_op.drop_index(batch_op.f('ix_quarantine_source_id'))
        for column in ('last_attempt_at', 'attempts', 'resolved_run_id', 'resolved_at', 'changed_seq',
                       'partner_key', 'customer_id', 'reason'):
            batch_op.drop_column(column)
