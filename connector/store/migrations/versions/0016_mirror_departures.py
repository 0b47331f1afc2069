"""mirror departures: what a mirror row named before an update changed whose record it is.

Incremental compute maps the rows stamped since its mark to the customers they name; a row whose
placing columns changed (an invoice payment now carrying another payment intent, a refund naming
another charge, an invoice of another customer) also *leaves* the customer its old values named,
and the row no longer says which. A trigger per mirror table writes those old values to
`mirror_departures`, stamped with the row's new `changed_seq`, so `changes_since` reads them with
the rows. Only updates that change one of the placing columns write one.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# mirror table -> {departure column: the table's column whose old value it keeps}
PLACING: dict[str, dict[str, str]] = {
    'st_invoice_payments': {'invoice_id': 'invoice_id', 'payment_intent': 'payment_intent', 'charge': 'charge'},
    'st_refunds': {'payment_intent': 'payment_intent', 'charge': 'charge'},
    'st_disputes': {'payment_intent': 'payment_intent', 'charge': 'charge'},
    'st_invoices': {'customer_id': 'customer_id'},
    'st_invoice_lines': {'invoice_id': 'invoice_id'},
    'st_credit_notes': {'invoice_id': 'invoice_id', 'customer_id': 'customer_id', 'refund_ids': 'refund_ids'},
    'st_subscriptions': {'customer_id': 'customer_id'},
    'st_subscription_items': {'subscription_id': 'subscription_id'},
    'fin_marketing_costs': {'customer_id': 'customer_id'},
}
JSON_COLUMNS = {'refund_ids'}


def _name(table: str) -> str:
    return f'trg_departure_{table}'


def _changed(columns: dict[str, str], postgres: bool) -> str:
    terms = []
    for source in columns.values():
        old, new = f'OLD.{source}', f'NEW.{source}'
        if postgres:
            if source in JSON_COLUMNS:  # json has no equality on PostgreSQL: compare its text
                old, new = f'{old}::text', f'{new}::text'
            terms.append(f'{old} IS DISTINCT FROM {new}')
        else:
            terms.append(f'{old} IS NOT {new}')
    return ' OR '.join(terms)


def _insert(columns: dict[str, str]) -> str:
    names = ', '.join(['changed_seq', *columns])
    values = ', '.join(['NEW.changed_seq', *(f'OLD.{source}' for source in columns.values())])
    return f'INSERT INTO mirror_departures ({names}) VALUES ({values})'


def upgrade() -> None:
    op.create_table(
        'mirror_departures',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('changed_seq', sa.BigInteger(), nullable=True),
        sa.Column('customer_id', sa.String(length=255), nullable=True),
        sa.Column('invoice_id', sa.String(length=255), nullable=True),
        sa.Column('subscription_id', sa.String(length=255), nullable=True),
        sa.Column('payment_intent', sa.String(length=255), nullable=True),
        sa.Column('charge', sa.String(length=255), nullable=True),
        sa.Column('refund_ids', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mirror_departures')),
    )
    with op.batch_alter_table('mirror_departures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mirror_departures_changed_seq'), ['changed_seq'], unique=False)
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, columns in PLACING.items():
        if postgres:
            op.execute(
                f'CREATE FUNCTION {_name(table)}() RETURNS trigger LANGUAGE plpgsql AS $$ '
                f'BEGIN {_insert(columns)}; RETURN NULL; END $$'
            )
            op.execute(
                f'CREATE TRIGGER {_name(table)} AFTER UPDATE ON {table} FOR EACH ROW '
                f'WHEN ({_changed(columns, postgres=True)}) EXECUTE FUNCTION {_name(table)}()'
            )
        else:
            op.execute(
                f'CREATE TRIGGER {_name(table)} AFTER UPDATE ON {table} FOR EACH ROW '
                f'WHEN {_changed(columns, postgres=False)} BEGIN {_insert(columns)}; END'
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table in PLACING:
        op.execute(f'DROP TRIGGER IF EXISTS {_name(table)}' + (f' ON {table}' if postgres else ''))
        if postgres:
            op.execute(f'DROP FUNCTION IF EXISTS {_name(table)}()')
    with op.batch_alter_table('mirror_departures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mirror_departures_changed_seq'))
    op.drop_table('mirror_departures')
