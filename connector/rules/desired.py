"""What the rules hand the ledger: the entries each reward group should total, and where an entry belongs.

The rules own these types and the ledger only consumes them, so the dependency runs one way
(`connector.ledger` imports `connector.rules`, never the reverse) and each package's
`__init__` can import its whole public surface without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

Note = str | Callable[[], str]
"""An entry's note, or what makes it: the rules describe every entry they want, but only an appended
entry's note is ever written (a recompute of an unchanged ledger appends nothing), so formatting
waits for `note_text`."""


def note_text(note: Note | None) -> str | None:
    return note() if callable(note) else note


def group_key(program: str, partnership_key: str, customer_key: str | None, kind: str, source: str) -> str:
    """The deterministic key of what a reward pays for: every entry of one reward shares it."""
    return f"{program}|{partnership_key}|{customer_key or '-'}|{kind}|{source}"


class DesiredEntry(NamedTuple):
    """What one ledger group should add up to as of this run.

    Immutable, and a NamedTuple rather than a frozen dataclass: a full pass builds one per
    commissioned event, and a frozen dataclass's __init__ costs several times as much.
    """

    group_key: str
    partnership_key: str
    customer_key: str | None
    kind: str  # commission | bonus | clawback
    basis: Fraction  # exact, minor units
    rate: Decimal
    amount: int  # rounded once; the group's target total
    currency: str
    sources: tuple[str, ...]
    event_at: dt.datetime | None
    payable_at: dt.datetime | None = None
    pending_reason: str | None = None  # not payable until something happens (no date yet)
    note: Note | None = None
    # what is booked for the group stands: its payable date has come and the program makes it final
    # (`[payable] final_once_payable`); a group not booked yet is booked at this amount
    final: bool = False


@dataclass(frozen=True)
class Placement:
    """Where an open entry belongs now: its status, and the reason (a gate code, `payable_after` …)."""

    status: str
    reason: str | None


PlacementPolicy = Callable[[str, str | None, dt.datetime | None, str | None, Sequence[str]], Placement]
"""(partnership_key, customer_key, payable_at, pending_reason, sources) -> where an open entry belongs
now (`connector.rules.gates.GatePolicy` is the one the compute pass uses). `sources` are the entry's
source ids: the `dispute_open` gate holds the entries that name a disputed invoice."""
