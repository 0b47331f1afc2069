"""compute reads a batch's invoices from one covering index (every column the rules read), which also serves
the first-purchase aggregate that 0003's ix_st_invoices_first_paid served: that index goes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:00:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# connector.rules.reads.facts.INVOICE_COLUMNS, the aggregate's columns first
COMPUTE_COLUMNS = [
    'customer_id', 'status', 'amount_paid', 'paid_at', 'created', 'id', 'currency', 'due_date', 'amount_remaining',
    'tax',
]


def upgrade() -> None:
    with op.batch_alter_table('st_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_st_invoices_compute', COMPUTE_COLUMNS, unique=False)
        batch_op.drop_index('ix_st_invoices_first_paid')


def downgrade() -> None:
    with op.batch_alter_table('st_invoices', schema=None) as batch_op:
        batch_op.create_index(
            'ix_st_invoices_first_paid', ['customer_id', 'status', 'amount_paid', 'paid_at', 'created'], unique=False
        )
        batch_op.drop_index('ix_st_invoices_compute')
