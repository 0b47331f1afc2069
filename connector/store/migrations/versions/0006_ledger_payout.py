"""ledger entries record what they pay in the reward currency: payout amount, currency, FX rate, its date
and source (programs.md, "Payout currency"); nullable, an entry pushed before keeps none

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 03:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('payout_amount_minor', 'payout_currency', 'fx_rate', 'fx_date', 'fx_source')


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payout_amount_minor', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('payout_currency', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('fx_rate', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('fx_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('fx_source', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
