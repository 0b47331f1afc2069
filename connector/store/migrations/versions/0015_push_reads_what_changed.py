"""push reads only what changed: mirrored rewards get a change tick (`ps_rewards.changed_seq`), the
entries their markers name an index of their own (`ps_reward_markers`), push's passes a mark each
(`push_marks`), and the pushed entries not read back yet a partial index (`ix_ledger_status_unread`).

Rewards already stored are stamped 0, like the rules' mirror rows in 0003; the marker index starts
empty and no pass has a mark, so the first push after this migration reads every reward once (the
passes as they were) and rebuilds the markers; the runs after it read what changed since.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD = "platform_reward_key IS NOT NULL AND platform_status IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('ps_rewards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_seq', sa.BigInteger(), nullable=True))
    op.execute("UPDATE ps_rewards SET changed_seq = 0")
    with op.batch_alter_table('ps_rewards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ps_rewards_changed_seq'), ['changed_seq'], unique=False)
    op.create_table(
        'ps_reward_markers',
        sa.Column('entry_key', sa.String(length=200), nullable=False),
        sa.Column('reward_key', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('entry_key', 'reward_key', name=op.f('pk_ps_reward_markers')),
    )
    with op.batch_alter_table('ps_reward_markers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ps_reward_markers_reward_key'), ['reward_key'], unique=False)
    op.create_table(
        'push_marks',
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('mark', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_push_marks')),
    )
    op.create_index(
        'ix_ledger_status_unread', 'ledger_entries', ['program', 'entry_key'], unique=False,
        sqlite_where=sa.text(UNREAD), postgresql_where=sa.text(UNREAD),
    )


def downgrade() -> None:
    op.drop_index('ix_ledger_status_unread', table_name='ledger_entries')
    op.drop_table('push_marks')
    with op.batch_alter_table('ps_reward_markers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ps_reward_markers_reward_key'))
    op.drop_table('ps_reward_markers')
    with op.batch_alter_table('ps_rewards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ps_rewards_changed_seq'))
        batch_op.drop_column('changed_seq')
