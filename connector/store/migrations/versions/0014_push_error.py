"""a refused reward's message gets its own column (`ledger_entries.push_error`): the entry's `note` is
its arithmetic in words, pushed in the reward's description, and must not be overwritten by the
platform's answer (nor change the body a refusal remembers). Notes that held a refusal move over.


Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REJECTED_PREFIX = "push rejected: "


def upgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('push_error', sa.Text(), nullable=True))
    entries = sa.table('ledger_entries', sa.column('note', sa.Text()), sa.column('push_error', sa.Text()))
    op.execute(
        entries.update()
        .where(entries.c.note.like(REJECTED_PREFIX + '%'))
        .values(push_error=entries.c.note, note=None)
    )


def downgrade() -> None:
    entries = sa.table('ledger_entries', sa.column('note', sa.Text()), sa.column('push_error', sa.Text()))
    op.execute(entries.update().where(entries.c.push_error.is_not(None)).values(note=entries.c.push_error))
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('push_error')
