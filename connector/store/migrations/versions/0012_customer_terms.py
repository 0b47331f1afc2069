"""customer_terms: the partner group a customer's commission terms were taken from at its first
booking (programs.md "Changes after the fact", Consio tiers)


Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import connector.store.models

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'customer_terms',
        sa.Column('program', sa.String(length=64), nullable=False),
        sa.Column('partnership_key', sa.String(length=255), nullable=False),
        sa.Column('customer_key', sa.String(length=255), nullable=False),
        sa.Column('group_slug', sa.String(length=64), nullable=True),
        sa.Column('run_id', sa.String(length=36), nullable=True),
        sa.Column('recorded_at', connector.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('program', 'partnership_key', 'customer_key', name=op.f('pk_customer_terms')),
    )


def downgrade() -> None:
    op.drop_table('customer_terms')
