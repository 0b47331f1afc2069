"""The ledger's reads and writes: a slice of stored entries in, new entries and moved statuses out.

Everything that touches the session is here; what the entries become is decided in memory
(`connector.ledger.corrections`).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, insert, or_, select, update
from sqlalchemy.orm import Session

from connector.ledger.entries import OPEN_STATUSES, PAYOUT_COLUMNS, EntryRow, Moves, moves_of, payout_of
from connector.ledger.history import Stamp, StatusAt, note_closed_corrections, record_booked, record_moves
from connector.rules.reads.sql import in_lists, padded, read_as
from connector.store.models import LedgerEntry
from connector.store.planner import note_rows_changed, note_rows_written

_ROW_COLUMNS = tuple(read_as(LedgerEntry.__mapper__.columns[f.name], f.name) for f in dataclasses.fields(EntryRow))
_SOURCES = [f.name for f in dataclasses.fields(EntryRow)].index("sources")


@dataclass
class LedgerSlice:
    """The stored ledger of some whole customers, as reconcile needs it.

    A recompute compares every group's total with what the rules want, but only entries that
    may still move (open: not pushed, not reversed) can change, and only a group whose total
    differs needs its entries one by one (the next seq, the basis so far, what to take back).
    Most of a ledger is pushed, and most recomputes append nothing: so every entry is read as
    (group, amount) only, the open ones whole, and the rest of a group whole only when it gets
    a correction (`whole_groups`).
    """

    totals: dict[str, int]  # every group's amount so far
    open: list[EntryRow]  # the open entries (each is placed on its own; a corrected group is read whole, in order)
    where: ColumnElement[bool]  # which entries the slice holds


def customers_of_partnerships(session: Session, program: str, partnerships: Collection[str]) -> set[str | None]:
    """Every customer key the program's ledger holds entries of these partnerships for."""
    out: set[str | None] = set()
    for chunk in in_lists(sorted(partnerships)):
        stmt = (
            select(LedgerEntry.customer_key)
            .where(LedgerEntry.program == program, LedgerEntry.partnership_key.in_(chunk))
            .distinct()
        )
        out.update(session.scalars(stmt))
    return out


def whole_ledger(session: Session, program: str) -> LedgerSlice:
    return _slice(session, LedgerEntry.program == program)


def entries_of_customers(session: Session, program: str, customer_keys: Collection[str | None]) -> LedgerSlice:
    """The program's ledger of these customers only (see `LedgerSlice`)."""
    keys = sorted(k for k in customer_keys if k is not None)
    condition: ColumnElement[bool] = LedgerEntry.customer_key.in_(padded(keys))
    if None in customer_keys:
        condition = or_(condition, LedgerEntry.customer_key.is_(None))
    return _slice(session, and_(LedgerEntry.program == program, condition))


def _slice(session: Session, where: ColumnElement[bool]) -> LedgerSlice:
    """Every entry's (group, amount, whether open); then the open entries whole, by key (asking for
    them by status instead let the database walk the outbox index, all open entries, for every batch)."""
    totals: dict[str, int] = defaultdict(int)
    open_keys: list[str] = []
    stmt = select(LedgerEntry.group_key, LedgerEntry.amount_minor, LedgerEntry.entry_key, LedgerEntry.push_state,
                  LedgerEntry.status).where(where)  # fmt: skip
    for group, amount, key, push_state, status in session.connection().execute(stmt).all():
        totals[group] += amount
        if push_state is None and status in OPEN_STATUSES:  # entries.is_open
            open_keys.append(key)
    open_rows: list[EntryRow] = []
    for chunk in in_lists(open_keys):
        open_rows.extend(_rows(session, LedgerEntry.entry_key.in_(chunk)))
    return LedgerSlice(dict(totals), open_rows, where)


def _rows(session: Session, where: ColumnElement[bool]) -> list[EntryRow]:
    stmt = select(*_ROW_COLUMNS).where(where).order_by(LedgerEntry.group_key, LedgerEntry.seq)
    return [_entry_row(row) for row in session.connection().execute(stmt).all()]  # all: one fetch, not one a row


def _entry_row(row: Row[Any]) -> EntryRow:
    values = list(row)
    values[_SOURCES] = tuple(values[_SOURCES] or ())
    return EntryRow(*values)


def whole_groups(session: Session, ledger: LedgerSlice, keys: list[str]) -> list[EntryRow]:
    """The slice's entries of these groups in group and seq order, the open ones as the objects
    already read (so a status moved on one is written once)."""
    open_rows = {row.entry_key: row for row in ledger.open}
    out: list[EntryRow] = []
    for chunk in in_lists(keys):
        rows = _rows(session, and_(ledger.where, LedgerEntry.group_key.in_(chunk)))
        out.extend(open_rows.get(row.entry_key, row) for row in rows)
    return out


def write(
    session: Session,
    appended: Sequence[LedgerEntry],
    read: Iterable[tuple[EntryRow, Moves]],
    *,
    program: str,
    stamp: Stamp | None = None,
) -> None:
    """One bulk INSERT of the new entries and one bulk UPDATE of the read entries that moved from
    what they were read as (`read`: each with its moves as read), by primary key; each new entry's
    booking and each status (or reason) move appended to the status history (`history`)."""
    stamp = stamp or Stamp.of(None)
    session.flush()  # anything the caller added goes first, as a flush before these statements would
    if appended:
        note_closed_corrections(session, appended, stamp)
        columns = [c.key for c in LedgerEntry.__mapper__.column_attrs]
        rows = [{k: v for k in columns if (v := e.__dict__.get(k, _UNSET)) is not _UNSET} for e in appended]
        session.execute(insert(LedgerEntry), rows)
        note_rows_written(session, LedgerEntry.__table__, len(rows))
        record_booked(session, appended, stamp)
    read = list(read)
    record_moves(
        session,
        ((e.entry_key, program, StatusAt(e.status, e.reason, e.platform_status))
         for e, before in read if (e.status, e.reason) != before[:2]),
        stamp,
        "moved",
    )  # fmt: skip
    moved = [
        {"entry_key": e.entry_key, "status": e.status, "reason": e.reason, "payable_at": e.payable_at,
         **dict(zip(PAYOUT_COLUMNS, payout_of(e), strict=True))}
        for e, before in read
        if moves_of(e) != before
    ]  # fmt: skip
    if moved:
        session.execute(update(LedgerEntry), moved)
        note_rows_changed(session, LedgerEntry.__table__, len(moved))


_UNSET = object()
