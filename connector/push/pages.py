"""The outbox read: a program's payable entries in event order, a keyset page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, tuple_
from sqlalchemy.orm import Session, load_only

from connector.context import RunContext
from connector.store.models import LedgerEntry

_EVENT_ORDER = (LedgerEntry.event_at, LedgerEntry.created_at, LedgerEntry.entry_key)

_BODY_COLUMNS = (
    LedgerEntry.entry_key, LedgerEntry.program, LedgerEntry.partnership_key, LedgerEntry.customer_key,
    LedgerEntry.kind, LedgerEntry.amount_minor, LedgerEntry.currency, LedgerEntry.payout_amount_minor,
    LedgerEntry.payout_currency, LedgerEntry.note, LedgerEntry.status, LedgerEntry.push_state,
    LedgerEntry.event_at, LedgerEntry.created_at,
)  # fmt: skip
"""What `OutboxPager` loads of an entry: what a body is built from (`rewards.BodyBuilder`: the amount
fields and their currencies, the target, the description's values), what the push records, and the
page's cursor. The rest (the `sources` JSON, the FX detail, the history columns) was half the CPU of
loading a batch; a destination that reads one of them still gets it, loaded when read."""


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
    behind the cursor, so it is not offered twice in one run. (The push reads the entries
    themselves the same way: `OutboxPager`.)
    """
    pager = OutboxPager(program, size)
    while True:
        with ctx.sessions() as session:
            keys = [entry.entry_key for entry in pager.next(session)]
        if not keys:
            return
        yield keys


class OutboxPager:
    """The outbox's entries themselves in event order, a keyset page per `next`, read in the caller's
    session (which builds their bodies from them): one query a batch, where reading the page's keys
    and then the entries by key took two (and the keys' read alone was 6 % of the push's CPU)."""

    def __init__(self, program: str, size: int) -> None:
        where = payable(program)
        self._phases = [((*where, LedgerEntry.event_at.is_not(None)), _EVENT_ORDER),
                        ((*where, LedgerEntry.event_at.is_(None)), _EVENT_ORDER[1:])]  # fmt: skip
        self._size = size
        self._after: tuple[Any, ...] | None = None

    def next(self, session: Session) -> list[LedgerEntry]:
        """The next page's entries (at most `size`); [] when the outbox is done."""
        while self._phases:
            where, order = self._phases[0]
            query = select(LedgerEntry).options(load_only(*_BODY_COLUMNS)).where(*where)
            if self._after is not None:
                cursor = tuple_(*(literal(v, column.type) for v, column in zip(self._after, order, strict=True)))
                query = query.where(tuple_(*order) > cursor)
            rows = list(session.scalars(query.order_by(*order).limit(self._size)))
            if len(rows) < self._size:
                self._phases.pop(0)
                self._after = None
            else:
                self._after = tuple(getattr(rows[-1], column.key) for column in order)
            if rows:
                return rows
        return []
