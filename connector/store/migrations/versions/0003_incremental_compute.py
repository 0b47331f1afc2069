"""incremental compute: change ticks on the mirror tables the rules read, a change clock, per-program state;
charge indexes (compute finds a batch's refunds and disputes by payment intent or charge); a covering
index for the first-purchase aggregate

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connector.store.models

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the mirror tables compute reads (connector.store.models.Tracked)
TRACKED = (
    'ps_partners', 'ps_leads', 'ps_deals', 'ps_customers', 'st_products', 'st_prices', 'st_subscriptions',
    'st_subscription_items', 'st_invoices', 'st_invoice_lines', 'st_credit_notes', 'st_refunds', 'st_disputes',
    'st_invoice_payments', 'fin_marketing_costs',
)

CHARGE_INDEXED = ('st_refunds', 'st_disputes', 'st_invoice_payments')


def upgrade() -> None:
    op.create_table('change_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_clock'))
    )
    # rows already stored are stamped 0 (seen by the first compute, which is a full one: no state yet);
    # from here on upsert_rows stamps the clock's current tick
    op.execute("INSERT INTO change_clock (id, seq) VALUES (1, 1)")
    op.create_table('compute_state',
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('mark', sa.BigInteger(), nullable=False),
    sa.Column('as_of', connector.store.models.UTCDateTime(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('recheck_at', connector.store.models.UTCDateTime(), nullable=True),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('computed_at', connector.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('program', name=op.f('pk_compute_state'))
    )
    op.create_table('compute_recheck',
    sa.Column('program', sa.String(length=64), nullable=False),
    sa.Column('customer_key', sa.String(length=255), nullable=False),
    sa.Column('recheck_at', connector.store.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('program', 'customer_key', name=op.f('pk_compute_recheck'))
    )
    with op.batch_alter_table('compute_recheck', schema=None) as batch_op:
        batch_op.create_index('ix_compute_recheck_program_at', ['program', 'recheck_at'], unique=False)
    for table in TRACKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('changed_seq', sa.BigInteger(), nullable=True))
        op.execute(f"UPDATE {table} SET changed_seq = 0")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_changed_seq'), ['changed_seq'], unique=False)
    for table in CHARGE_INDEXED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_charge'), ['charge'], unique=False)
    with op.batch_alter_table('st_invoices', schema=None) as batch_op:
        batch_op.create_index(
            'ix_st_invoices_first_paid', ['customer_id', 'status', 'amount_paid', 'paid_at', 'created'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('st_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_st_invoices_first_paid')
    for table in CHARGE_INDEXED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_charge'))
    for table in reversed(TRACKED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_changed_seq'))
            batch_op.drop_column('changed_seq')
    with op.batch_alter_table('compute_recheck', schema=None) as batch_op:
        batch_op.drop_index('ix_compute_recheck_program_at')
    op.drop_table('compute_recheck')
    op.drop_table('compute_state')
    op.drop_table('change_clock')
