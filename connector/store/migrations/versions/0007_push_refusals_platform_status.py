"""rewards as PartnerStack documents them: a refused entry remembers the body it was refused for
(`ledger_entries.refused_body`), entries carry the reward's status read back (`platform_status`),
the mirrored rewards keep `reward_status` and `payment_status`, and an index on the entries'
reward key lets push find a mirrored reward no entry records without a scan


Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 03:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_body', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('platform_status', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_ledger_entries_platform_reward_key'), ['platform_reward_key'], unique=False)
    with op.batch_alter_table('ps_rewards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reward_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('payment_status', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ps_rewards', schema=None) as batch_op:
        batch_op.drop_column('payment_status')
        batch_op.drop_column('reward_status')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_platform_reward_key'))
        batch_op.drop_column('platform_status')
        batch_op.drop_column('refused_body')
