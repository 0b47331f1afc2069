"""run_lease: the fencing token of the run holding the run lock, one row per lock name, seeded at 0
(issue 15: a run that lost its lock must not write again)


Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connector.store.models

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'run_lease',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('holder', sa.String(length=64), nullable=True),
        sa.Column('taken_at', connector.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_run_lease')),
    )
    op.bulk_insert(table, [{'name': 'run', 'token': 0, 'holder': None, 'taken_at': None}])


def downgrade() -> None:
    op.drop_table('run_lease')
