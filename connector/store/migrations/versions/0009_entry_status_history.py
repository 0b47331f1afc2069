"""entry status history (append-only, one row per status move, each with its time, run and
accounting month) and period closes; the history starts with one `backfill` row per existing entry
holding its current status (the moves before this migration were never recorded)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00.000000
"""
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 5000


def upgrade() -> None:
    history = op.create_table(
        'entry_status_history',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('entry_key', sa.String(length=200), nullable=False),
        sa.Column('program', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=True),
        sa.Column('platform_status', sa.String(length=16), nullable=True),
        sa.Column('cause', sa.String(length=16), nullable=False),
        sa.Column('run_id', sa.String(length=36), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('corrects', sa.String(length=7), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_status_history')),
    )
    with op.batch_alter_table('entry_status_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_status_history_entry_key'), ['entry_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_entry_status_history_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_entry_status_history_program_period', ['program', 'period'], unique=False)
    op.create_table(
        'period_closes',
        sa.Column('program', sa.String(length=64), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('closed_at', sa.DateTime(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('rendering', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('program', 'period', name=op.f('pk_period_closes')),
    )
    _backfill(history)


def _backfill(history: sa.Table) -> None:
    """One row per existing entry with its current status, dated by its push (else its booking) and
    counted in its event's month (else its booking's): where the roll-forward would have put it."""
    bind = op.get_bind()
    runs = {rid: as_of for rid, as_of in bind.execute(sa.text('SELECT id, as_of FROM runs'))}
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = bind.execute(sa.text(
        'SELECT entry_key, program, status, reason, platform_status, created_run_id, pushed_run_id, created_at, '
        'pushed_at, event_at FROM ledger_entries ORDER BY created_at, entry_key'
    )).all()  # all: read before the inserts on the same connection
    batch: list[dict[str, object]] = []
    for key, program, status, reason, platform_status, created_run, pushed_run, created_at, pushed_at, event_at in rows:
        run_id = pushed_run or created_run
        at = pushed_at or runs.get(created_run) or created_at
        booked = event_at or runs.get(created_run) or created_at
        batch.append({
            'entry_key': key, 'program': program, 'status': status, 'reason': reason,
            'platform_status': platform_status, 'cause': 'backfill', 'run_id': run_id, 'at': _naive(at),
            'recorded_at': now, 'period': _naive(booked).strftime('%Y-%m'), 'corrects': None,
        })
        if len(batch) >= _CHUNK:
            op.bulk_insert(history, batch)
            batch = []
    if batch:
        op.bulk_insert(history, batch)


def _naive(value: object) -> dt.datetime:
    """A stored time as naive UTC (SQLite hands back text, PostgreSQL a datetime)."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def downgrade() -> None:
    op.drop_table('period_closes')
    with op.batch_alter_table('entry_status_history', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_status_history_program_period')
        batch_op.drop_index(batch_op.f('ix_entry_status_history_run_id'))
        batch_op.drop_index(batch_op.f('ix_entry_status_history_entry_key'))
    op.drop_table('entry_status_history')
