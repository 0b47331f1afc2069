"""A ledger entry as read back, and the rules every entry obeys: its key, when it is open, how it moves.

Pure: nothing here reads or writes the store (`connector.ledger.store` does).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from connector.rules.payout import Payout
from connector.store.models import LedgerEntry

OPEN_STATUSES = ("scheduled", "held", "payable")  # not yet pushed, not reversed


@dataclass(eq=False, slots=True)
class EntryRow:
    """A stored ledger entry as a plain row: what reconcile reads back and what the report shows.

    Not an ORM instance (no identity map, no change tracking: a pass reads many). Amounts never
    change; reconcile moves only `status`, `reason`, `payable_at` and the payout of an open entry, then writes
    those it moved in one bulk UPDATE. `LedgerEntry` is the table; this is one row of it as read.
    """

    entry_key: str
    group_key: str
    partnership_key: str
    customer_key: str | None
    kind: str
    basis_minor: int
    rate: str
    amount_minor: int
    currency: str
    status: str
    reason: str | None
    sources: tuple[str, ...]
    event_at: dt.datetime | None
    payable_at: dt.datetime | None
    push_state: str | None
    platform_reward_key: str | None
    pushed_at: dt.datetime | None
    created_run_id: str | None
    pushed_run_id: str | None
    payout_amount_minor: int | None = None  # what it pays in the reward currency (connector.rules.payout)
    payout_currency: str | None = None
    fx_rate: str | None = None
    fx_date: dt.date | None = None
    fx_source: str | None = None
    platform_status: str | None = None  # the platform's reward_status read back (the report reads it)
    note: str | None = None  # the entry's arithmetic in words, as written when it was appended (rules.notes)


Entry = LedgerEntry | EntryRow
"""An entry reconcile handles: a stored one read back, or a new one not yet inserted."""

PayoutFields = tuple[int | None, str | None, str | None, dt.date | None, str | None]
"""(payout_amount_minor, payout_currency, fx_rate, fx_date, fx_source)."""

PAYOUT_COLUMNS = ("payout_amount_minor", "payout_currency", "fx_rate", "fx_date", "fx_source")

Moves = tuple[str, str | None, dt.datetime | None, PayoutFields]
"""What of an entry may move: (status, reason, payable_at, its payout while it is open)."""


@dataclass
class LedgerResult:
    appended: int = 0
    appended_minor: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses_changed: int = 0
    reversed: int = 0
    # per customer key: the earliest payable_at of an open `scheduled` entry, when time alone moves it
    wake: dict[str | None, dt.datetime] = field(default_factory=dict)
    # the (partnership, customer) pairs a take-back for a changed decision was appended for (`requalify`)
    requalified: set[tuple[str, str | None]] = field(default_factory=set)


def entry_key(group: str, seq: int) -> str:
    return f"{group}#{seq}"


def is_open(entry: Entry) -> bool:
    """Neither pushed nor reversed: only such an entry may still move."""
    return entry.push_state is None and entry.status in OPEN_STATUSES


def may_move(current: str, target: str) -> bool:
    """Forward only: scheduled -> held/payable; held <-> payable (a gate can close again)."""
    if current == target:
        return False
    return not (target == "scheduled" and current != "scheduled")


def pending_of(entry: Entry) -> str | None:
    """Why a scheduled entry without a date waits (what it was placed with), else None."""
    return entry.reason if entry.status == "scheduled" and entry.payable_at is None else None


def payout_of(entry: Entry) -> PayoutFields:
    return (entry.payout_amount_minor, entry.payout_currency, entry.fx_rate, entry.fx_date, entry.fx_source)


def set_payout(entry: Entry, payout: Payout | None) -> None:
    """Record what an open entry pays in the reward currency (all None: no rate applies yet)."""
    if payout is None:
        values: PayoutFields = (None, None, None, None, None)
    else:
        values = (payout.amount_minor, payout.currency, payout.rate, payout.date, payout.source)
    if payout_of(entry) != values:
        for name, value in zip(PAYOUT_COLUMNS, values, strict=True):
            setattr(entry, name, value)


def moves_of(entry: Entry) -> Moves:
    return (entry.status, entry.reason, entry.payable_at, payout_of(entry))
