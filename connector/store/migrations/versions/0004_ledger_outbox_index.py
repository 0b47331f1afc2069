"""ledger index on (program, status, event_at, created_at, entry_key): push pages the outbox by keyset

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:00:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_outbox', ['program', 'status', 'event_at', 'created_at', 'entry_key'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_outbox')
