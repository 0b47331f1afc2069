"""The roll-forward of a period, per currency and per partner, from the status history alone.

    opening owed + accrued − taken back − paid = closing owed

- **owed** at an instant: every entry booked by then and not yet paid (whatever its status:
  scheduled, held, payable, pushed, approved or declined; a reversed pair nets to zero);
- **accrued**: positive entries booked in the period (commissions, bonuses, upward corrections);
- **taken back**: negative entries booked in the period (clawbacks, reversals, downward corrections);
- **paid**: entries whose reward the platform reported `paid` in the period.

An entry is booked at its event (the paid invoice, the refund), or at the start of the first open
month when its event's month was closed before it was booked (it then names the closed month it
corrects); a move counts at its run's as-of, likewise moved past a closed month. Everything comes
from `entry_status_history` rows that count in the period's last month or before, and from the
entries' columns that never change (amount, currency, partner, kind, event): so a closed month's
roll-forward is a function of rows no later run can add to, and renders the same bytes forever.

The closing balance is summed on its own from each entry's state at the end (not derived from the
other four), by status, so the `roll_forward` check is a real tie-out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.ledger.history import Move, rows_through
from connector.report.period import Period, month_period
from connector.rules.reads.sql import in_lists
from connector.store.models import LedgerEntry, PeriodClose

BOOKING_CAUSES = ("booked", "backfill")
# how the closing balance is split: the entry's status at the end, a pushed one by the platform's word
CLOSING_STATES = ("scheduled", "held", "payable", "pushed", "approved", "declined", "reversed")


@dataclass(frozen=True)
class Fixed:
    """What never changes about an entry (the ledger's append-only columns)."""

    partner_key: str
    customer_key: str | None
    kind: str
    amount_minor: int
    currency: str
    event_at: dt.datetime | None


@dataclass
class Line:
    """One roll-forward: a currency's (`partner_key` None) or one partner's in one currency."""

    currency: str
    partner_key: str | None = None
    opening_minor: int = 0
    accrued_minor: int = 0
    taken_back_minor: int = 0
    paid_minor: int = 0
    closing_minor: int = 0  # summed from the entries owed at the end, not from the four above
    closing_by_state: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOSING_STATES, 0))
    entries: int = 0  # entries booked in the period

    @property
    def expected_closing_minor(self) -> int:
        return self.opening_minor + self.accrued_minor - self.taken_back_minor - self.paid_minor

    @property
    def ties(self) -> bool:
        return self.expected_closing_minor == self.closing_minor == sum(self.closing_by_state.values())


@dataclass(frozen=True)
class Movement:
    """An entry that moved the balance in the period: booked (accrued or taken back) or paid."""

    on: dt.datetime
    entry_key: str
    partner_key: str
    customer_key: str | None
    kind: str
    amount_minor: int
    currency: str
    what: str  # accrued | taken back | paid
    corrects: str | None  # the closed month a late booking corrects
    state_at_end: str


@dataclass
class RollForward:
    program: str
    period: Period
    closed: bool  # every month of the period is closed: its figures can no longer change
    currencies: list[Line]
    partners: list[Line]
    movements: list[Movement]
    declined: list[Movement]  # rewards the platform had declined by the end: findings

    @property
    def ties(self) -> bool:
        return all(line.ties for line in (*self.currencies, *self.partners))


@dataclass
class _Entry:
    fixed: Fixed
    booked_at: dt.datetime
    corrects: str | None
    paid_at: dt.datetime | None = None
    states: list[tuple[dt.datetime, str]] = field(default_factory=list)  # (counts from, state), in row order


def roll_forward(session: Session, program: str, period: Period) -> RollForward:
    """The period's roll-forward from the history rows counting in its last month or before."""
    rows = rows_through(session, program, period.last_month)
    fixed = fixed_of(session, {r.entry_key for r in rows})
    entries = _entries(rows, fixed)
    by_currency: dict[str, Line] = {}
    by_partner: dict[tuple[str, str], Line] = {}
    movements: list[Movement] = []
    declined: list[Movement] = []
    for key in sorted(entries):
        e = entries[key]
        if e.booked_at >= period.end:
            continue
        f = e.fixed
        lines = (by_currency.setdefault(f.currency, Line(f.currency)),
                 by_partner.setdefault((f.partner_key, f.currency), Line(f.currency, f.partner_key)))  # fmt: skip
        state = _state_at(e, period.end)
        owed_at_start = e.booked_at < period.start and not _paid_before(e, period.start)
        owed_at_end = not _paid_before(e, period.end)
        booked_in = period.start <= e.booked_at
        paid_in = e.paid_at is not None and period.start <= e.paid_at < period.end
        for line in lines:
            line.opening_minor += f.amount_minor if owed_at_start else 0
            if booked_in:
                line.entries += 1
                if f.amount_minor >= 0:
                    line.accrued_minor += f.amount_minor
                else:
                    line.taken_back_minor += -f.amount_minor
            line.paid_minor += f.amount_minor if paid_in else 0
            if owed_at_end:
                line.closing_minor += f.amount_minor
                line.closing_by_state[state if state in CLOSING_STATES else "pushed"] += f.amount_minor
        if booked_in:
            what = "accrued" if f.amount_minor >= 0 else "taken back"
            movements.append(_movement(key, f, e.booked_at, what, e.corrects, state))
        if paid_in:
            assert e.paid_at is not None
            movements.append(_movement(key, f, e.paid_at, "paid", None, state))
        if state == "declined":
            declined.append(_movement(key, f, e.booked_at, "declined", e.corrects, state))
    movements.sort(key=lambda m: (m.on, m.entry_key, m.what))
    return RollForward(
        program=program,
        period=period,
        closed=is_closed(session, program, period),
        currencies=[by_currency[c] for c in sorted(by_currency)],
        partners=[by_partner[k] for k in sorted(by_partner)],
        movements=movements,
        declined=declined,
    )


def is_closed(session: Session, program: str, period: Period) -> bool:
    closed = session.scalar(select(PeriodClose.period).where(PeriodClose.program == program)
                            .order_by(PeriodClose.period.desc()).limit(1))  # fmt: skip
    return closed is not None and period.last_month <= closed


def _movement(key: str, f: Fixed, on: dt.datetime, what: str, corrects: str | None, state: str) -> Movement:
    return Movement(on, key, f.partner_key, f.customer_key, f.kind, f.amount_minor, f.currency, what, corrects, state)


def _paid_before(e: _Entry, when: dt.datetime) -> bool:
    return e.paid_at is not None and e.paid_at < when


def _state_at(e: _Entry, when: dt.datetime) -> str:
    """The entry's state (a `CLOSING_STATES` name) by its last row counting before `when`."""
    current = "payable"
    for since, state in e.states:
        if since < when:
            current = state
    return current


def counts_from(row: Move, event_at: dt.datetime | None) -> dt.datetime:
    """The instant a row counts from: a booking at its event, a move at its run's as-of; a row moved
    past a closed month (its month is not its `period`) at the start of the month it counts in."""
    when = (event_at or row.at) if row.cause in BOOKING_CAUSES else row.at
    if when.strftime("%Y-%m") != row.period:
        return month_period(row.period).start
    return when


def _state_of(row: Move) -> str:
    if row.platform_status in ("approved", "declined", "paid"):
        return row.platform_status
    return row.status if row.status in CLOSING_STATES else "payable"


def _entries(rows: Iterable[Move], fixed: dict[str, Fixed]) -> dict[str, _Entry]:
    out: dict[str, _Entry] = {}
    for row in rows:  # in the order recorded
        f = fixed.get(row.entry_key)
        if f is None:
            continue
        when = counts_from(row, f.event_at)
        e = out.get(row.entry_key)
        if e is None:
            e = out[row.entry_key] = _Entry(f, when, row.corrects)
        when = max(when, e.booked_at)  # nothing about an entry counts before it was booked
        if row.platform_status == "paid" and e.paid_at is None:
            e.paid_at = when
        e.states.append((when, _state_of(row)))
    return out


def fixed_of(session: Session, keys: set[str]) -> dict[str, Fixed]:
    out: dict[str, Fixed] = {}
    columns = (LedgerEntry.entry_key, LedgerEntry.partnership_key, LedgerEntry.customer_key, LedgerEntry.kind,
               LedgerEntry.amount_minor, LedgerEntry.currency, LedgerEntry.event_at)  # fmt: skip
    for chunk in in_lists(sorted(keys)):
        for key, partner, customer, kind, amount, currency, event_at in session.execute(
            select(*columns).where(LedgerEntry.entry_key.in_(chunk))
        ):
            out[key] = Fixed(partner, customer, kind, int(amount), currency.lower(), event_at)
    return out


@dataclass(frozen=True)
class LedgerTie:
    """The history against the ledger as it is now, per currency: the same entries, the same amounts,
    each entry's current status its latest row's."""

    currency: str
    ledger_minor: int
    booked_minor: int  # the amounts of the entries the history has a booking row for
    unbooked: int  # ledger entries without a row
    stale: int  # entries whose status (or platform status) is not their latest row's

    @property
    def ties(self) -> bool:
        return self.ledger_minor == self.booked_minor and self.unbooked == 0 and self.stale == 0


def ledger_ties(session: Session, program: str) -> list[LedgerTie]:
    latest: dict[str, tuple[str, str | None]] = {}
    for move in rows_through(session, program, "9999-12"):
        latest[move.entry_key] = (move.status, move.platform_status)
    ledger: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # ledger, booked, unbooked, stale
    stmt = select(LedgerEntry.entry_key, LedgerEntry.currency, LedgerEntry.amount_minor, LedgerEntry.status,
                  LedgerEntry.platform_status).where(LedgerEntry.program == program)  # fmt: skip
    for key, currency, amount, status, platform in session.execute(stmt):
        sums = ledger[currency.lower()]
        sums[0] += int(amount)
        row = latest.get(key)
        if row is None:
            sums[2] += 1
            continue
        sums[1] += int(amount)
        sums[3] += row != (status, platform)
    return [LedgerTie(c, *ledger[c]) for c in sorted(ledger)]
