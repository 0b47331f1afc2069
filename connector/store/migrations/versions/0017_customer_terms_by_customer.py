"""customer_terms by customer: an index on (program, customer_key).

Compute reads the recorded terms of a batch's customers (`connector.ledger.terms.recorded`,
`program = … AND customer_key IN (…)`); the primary key leads with the partnership, so each batch
scanned the program's every row and matched it against the batch's keys (about 90 ms a batch at M
on PostgreSQL, 37 batches of a recompute, growing with the customers).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 22:45:00.000000
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_customer_terms_program_customer', 'customer_terms', ['program', 'customer_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_customer_terms_program_customer', table_name='customer_terms')
