"""subscriptions remember when they were cancelled (`st_subscriptions.canceled_at`): a one-off reward
whose first subscription is cancelled before the reward is payable is void (programs.md, "Changes
after the fact")


Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connector.store.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('st_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('canceled_at', connector.store.models.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('st_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('canceled_at')
