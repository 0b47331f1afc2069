"""The outbox read: a program's payable entries in event order, a keyset page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, tuple_

from connector.context import RunContext
from connector.store.models import LedgerEntry

_EVENT_ORDER = (LedgerEntry.event_at, LedgerEntry.created_at, LedgerEntry.entry_key)


def payable(program: str) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
    """The outbox: the program's entries waiting to be sent (`ix_ledger_outbox` leads with the first
    two); an entry the platform refused waits for a change instead (`outbox.reoffer_changed_refusals`)."""
    return (LedgerEntry.program == program, LedgerEntry.status == "payable",
            LedgerEntry.push_state.is_distinct_from("refused"))  # fmt: skip


def outbox_size(ctx: RunContext, program: str) -> int:
    with ctx.sessions() as session:
        count = session.scalar(select(func.count()).select_from(LedgerEntry).where(*payable(program)))
    return int(count or 0)


def outbox_pages(ctx: RunContext, program: str, size: int) -> Iterator[list[str]]:
    """The keys of the payable entries in event order, `size` at a time, each page a fresh query.

    In event order so a partner sees a refund's clawback after the reward it reverses; undated
    entries come last. Keyset paging on `ix_ledger_outbox` instead of one list of every key:
    memory stays one page however long the outbox (790 k entries at L), and no read transaction
    stays open for the hours a large push takes. An entry a batch leaves payable (rejected) is
    behind the cursor, so it is not offered twice in one run.
    """
    where = payable(program)
    yield from _keyset(ctx, (*where, LedgerEntry.event_at.is_not(None)), _EVENT_ORDER, size)
    yield from _keyset(ctx, (*where, LedgerEntry.event_at.is_(None)), _EVENT_ORDER[1:], size)


def _keyset(ctx: RunContext, where: tuple[Any, ...], order: tuple[Any, ...], size: int) -> Iterator[list[str]]:
    """Entry keys matching `where` in `order` (ending with the unique entry key), a page at a time."""
    after: tuple[Any, ...] | None = None
    while True:
        query = select(*order).where(*where)
        if after is not None:
            cursor = tuple_(*(literal(value, column.type) for value, column in zip(after, order, strict=True)))
            query = query.where(tuple_(*order) > cursor)
        with ctx.sessions() as session:
            rows = session.execute(query.order_by(*order).limit(size)).all()
        if rows:
            yield [row.entry_key for row in rows]
        if len(rows) < size:
            return
        after = tuple(rows[-1])
