"""The append-only ledger: what the program promises, written as differences.

Each reward has a deterministic `group_key` (program|partner|customer|kind|source). The
rules hand over the amount every group should total *now*; the ledger appends only the
difference to what the group already holds (`#0`, then `#1`, `#2` … corrections), so a
recompute over unchanged data writes nothing, and a late refund or tier change writes
exactly the correction. Amounts are never edited; only `status`, `reason` and
`payable_at` of entries that push has not touched move forward.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import ColumnElement, Text, and_, cast, insert, or_, select, update
from sqlalchemy.orm import Session

from connector.money import rate_str, round_half_up
from connector.rules.reads.sql import in_lists, padded, read_as
from connector.store.db import json_loads
from connector.store.models import LedgerEntry

OPEN_STATUSES = ("scheduled", "held", "payable")  # not yet pushed, not reversed


Note = str | Callable[[], str]
"""An entry's note, or what makes it: the rules describe every entry they want, but only an appended
entry's note is ever written (a recompute of an unchanged ledger appends nothing), so formatting
waits for `note_text`."""


def note_text(note: Note | None) -> str | None:
    return note() if callable(note) else note


class DesiredEntry(NamedTuple):
    """What one ledger group should add up to as of this run.

    Immutable, and a NamedTuple rather than a frozen dataclass: a full pass builds one per
    commissioned event, and a frozen dataclass's __init__ costs several times as much.
    """

    group_key: str
    partner_key: str
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


@dataclass(frozen=True)
class Placement:
    status: str
    reason: str | None


# (partner_key, customer_key, payable_at, pending_reason) -> where an open entry belongs now
PlacementPolicy = Callable[[str, str | None, dt.datetime | None, str | None], Placement]


@dataclass(eq=False, slots=True)
class LedgerRow:
    """An existing ledger entry as reconcile reads it: a plain row, not an ORM instance.

    Only `status`, `reason` and `payable_at` may change; `changed` says whether they did, so
    reconcile writes one bulk UPDATE per batch instead of flushing tracked instances.
    `sources` is read as its JSON text and parsed only if asked for (reversal pairing and
    take-backs need it, a recompute of an unchanged group never does).
    """

    entry_key: str
    group_key: str
    partner_key: str
    customer_key: str | None
    kind: str
    basis_minor: int
    rate: str
    amount_minor: int
    currency: str
    status: str
    reason: str | None
    sources_json: str | None
    event_at: dt.datetime | None
    payable_at: dt.datetime | None
    push_state: str | None
    original: tuple[str, str | None, dt.datetime | None] = ("", None, None)
    _sources: list[str] | None = None

    def __post_init__(self) -> None:
        self.original = (self.status, self.reason, self.payable_at)

    @property
    def sources(self) -> list[str]:
        if self._sources is None:
            self._sources = list(json_loads(self.sources_json)) if self.sources_json else []
        return self._sources

    @property
    def changed(self) -> bool:
        return (self.status, self.reason, self.payable_at) != self.original


Entry = LedgerEntry | LedgerRow  # existing rows, and the new (not yet inserted) entries
_ROW_COLUMNS = tuple(
    cast(LedgerEntry.sources, Text) if name == "sources_json" else read_as(LedgerEntry.__table__.c[name], name)
    for name in LedgerRow.__dataclass_fields__
    if name not in ("original", "_sources")
)


@dataclass
class LedgerResult:
    appended: int = 0
    appended_minor: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses_changed: int = 0
    reversed: int = 0
    # per customer key: the earliest payable_at of an open `scheduled` entry, when time alone moves it
    wake: dict[str | None, dt.datetime] = field(default_factory=dict)


def group_key(program: str, partner_key: str, customer_key: str | None, kind: str, source: str) -> str:
    return f"{program}|{partner_key}|{customer_key or '-'}|{kind}|{source}"


def entry_key(group: str, seq: int) -> str:
    return f"{group}#{seq}"


def _is_open(entry: Entry) -> bool:
    return entry.push_state is None and entry.status in OPEN_STATUSES


def _may_move(current: str, target: str) -> bool:
    """Forward only: scheduled -> held/payable; held <-> payable (a gate can close again)."""
    if current == target:
        return False
    return not (target == "scheduled" and current != "scheduled")


def reconcile(
    session: Session,
    program: str,
    desired: Iterable[DesiredEntry],
    placement: PlacementPolicy,
    *,
    run_id: str | None,
    now: dt.datetime,
) -> LedgerResult:
    """Append each group's difference, then move open entries to their current status (whole ledger)."""
    result = LedgerResult()
    entries = _slice(session, LedgerEntry.program == program)
    reconcile_entries(session, program, entries, desired, placement, run_id=run_id, now=now, result=result)
    return result


def ledger_customer_keys(session: Session, program: str) -> set[str | None]:
    """Every customer key the program's ledger holds (None for entries without a customer)."""
    return set(session.scalars(select(LedgerEntry.customer_key).where(LedgerEntry.program == program).distinct()))


@dataclass
class LedgerSlice:
    """The stored ledger of some whole customers, as reconcile needs it.

    A recompute compares every group's total with what the rules want, but only entries that
    may still move (open: not pushed, not reversed) can change, and only a group whose total
    differs needs its entries one by one (the next seq, the basis so far, what to take back).
    Most of a ledger is pushed, and most recomputes append nothing: so every entry is read as
    (group, amount) only, the open ones whole, and the rest of a group whole only when it gets
    a correction (`reconcile_entries` reads those itself).
    """

    totals: dict[str, int]  # every group's amount so far
    open: list[LedgerRow]  # the open entries (each is placed on its own; a corrected group is read whole, in order)
    where: ColumnElement[bool]  # which entries the slice holds


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
        if push_state is None and status in OPEN_STATUSES:  # _is_open
            open_keys.append(key)
    open_rows: list[LedgerRow] = []
    for chunk in in_lists(open_keys):
        open_rows.extend(_rows(session, LedgerEntry.entry_key.in_(chunk)))
    return LedgerSlice(dict(totals), open_rows, where)


def _rows(session: Session, where: ColumnElement[bool]) -> list[LedgerRow]:
    stmt = select(*_ROW_COLUMNS).where(where).order_by(LedgerEntry.group_key, LedgerEntry.seq)
    return [LedgerRow(*row) for row in session.connection().execute(stmt).all()]  # all: one fetch, not one a row


def _whole_groups(session: Session, ledger: LedgerSlice, keys: list[str]) -> list[LedgerRow]:
    """The slice's entries of these groups in group and seq order, the open ones as the objects
    already read (so a status moved on one is written once)."""
    open_rows = {row.entry_key: row for row in ledger.open}
    out: list[LedgerRow] = []
    for chunk in in_lists(keys):
        rows = _rows(session, and_(ledger.where, LedgerEntry.group_key.in_(chunk)))
        out.extend(open_rows.get(row.entry_key, row) for row in rows)
    return out


def reconcile_entries(
    session: Session,
    program: str,
    ledger: LedgerSlice,
    desired: Iterable[DesiredEntry],
    placement: PlacementPolicy,
    *,
    run_id: str | None,
    now: dt.datetime,
    result: LedgerResult,
) -> None:
    """Reconcile one slice of the ledger (whole customers) against the entries desired for it.

    Every group, correction and reversal pair stays within one (partner, customer), so a
    slice holding whole customers reconciles exactly as the whole ledger would; `result`
    accumulates across slices. Groups are corrected in key order, as the whole ledger would be.
    """
    totals = ledger.totals
    wanted = {d.group_key: d for d in desired}
    differ = [key for key, d in wanted.items() if d.amount != totals.get(key, 0)]
    differ.extend(key for key, have in totals.items() if have != 0 and key not in wanted)
    differ.sort()

    existing: dict[str, list[Entry]] = defaultdict(list)
    for row in ledger.open:
        existing[row.group_key].append(row)
    stored = [key for key in differ if key in totals]  # groups with entries: read them whole
    if stored:
        whole: dict[str, list[Entry]] = defaultdict(list)
        for row in _whole_groups(session, ledger, stored):
            whole[row.group_key].append(row)
        existing.update(whole)

    appended: list[LedgerEntry] = []
    for key in differ:
        entries = existing.get(key, [])
        target = wanted.get(key)
        have = sum(e.amount_minor for e in entries)
        want = target.amount if target is not None else 0
        new = _correction(program, key, entries, target, want - have, run_id, now, placement)
        appended.append(new)
        entries.append(new)
        existing[key] = entries
        result.appended += 1
        result.appended_minor[new.currency] += new.amount_minor

    for key, entries in existing.items():
        target = wanted.get(key)
        for entry in entries:
            if not _is_open(entry):
                continue
            payable_at = target.payable_at if target is not None else entry.payable_at
            pending = target.pending_reason if target is not None else _pending_of(entry)
            place = placement(entry.partner_key, entry.customer_key, payable_at, pending)
            if entry.payable_at != payable_at:
                entry.payable_at = payable_at
            if _may_move(entry.status, place.status) or (entry.status == place.status and entry.reason != place.reason):
                if entry.status != place.status:
                    result.statuses_changed += 1
                entry.status, entry.reason = place.status, place.reason
    result.reversed += _pair_reversals([e for entries in existing.values() for e in entries])
    _note_wake(result.wake, existing.values())
    _write(session, appended, [e for entries in existing.values() for e in entries if isinstance(e, LedgerRow)])


def _note_wake(wake: dict[str | None, dt.datetime], groups: Iterable[list[Entry]]) -> None:
    """A scheduled entry with a date becomes payable (or held) once as-of reaches it; nothing else in
    the ledger moves by time alone (held and payable entries never go back to scheduled)."""
    for entries in groups:
        for e in entries:
            if e.status == "scheduled" and e.payable_at is not None and _is_open(e):
                current = wake.get(e.customer_key)
                if current is None or e.payable_at < current:
                    wake[e.customer_key] = e.payable_at


def _write(session: Session, appended: list[LedgerEntry], existing: list[LedgerRow]) -> None:
    """One bulk INSERT of the new entries and one bulk UPDATE of the moved ones (by primary key)."""
    session.flush()  # anything the caller added goes first, as a flush before these statements would
    if appended:
        columns = [c.key for c in LedgerEntry.__table__.columns]
        rows = [{k: v for k in columns if (v := e.__dict__.get(k, _UNSET)) is not _UNSET} for e in appended]
        session.execute(insert(LedgerEntry), rows)
    moved = [
        {"entry_key": e.entry_key, "status": e.status, "reason": e.reason, "payable_at": e.payable_at}
        for e in existing
        if e.changed
    ]
    if moved:
        session.execute(update(LedgerEntry), moved)


_UNSET = object()


def _pending_of(entry: Entry) -> str | None:
    return entry.reason if entry.status == "scheduled" and entry.payable_at is None else None


def _correction(
    program: str,
    key: str,
    entries: Sequence[Entry],
    target: DesiredEntry | None,
    diff: int,
    run_id: str | None,
    now: dt.datetime,
    placement: PlacementPolicy,
) -> LedgerEntry:
    last = entries[-1] if entries else None
    if target is not None:
        group_kind = target.kind
        basis = round_half_up(target.basis) - sum(e.basis_minor for e in entries)
        rate, currency, sources = rate_str(target.rate), target.currency, list(target.sources)
        partner, customer = target.partner_key, target.customer_key
        event_at, payable_at, pending = target.event_at, target.payable_at, target.pending_reason
        note = note_text(target.note)
    else:  # the group is no longer owed (e.g. the submission stopped qualifying): take it back
        assert last is not None
        group_kind = entries[0].kind
        basis = -sum(e.basis_minor for e in entries)
        rate, currency, sources = last.rate, last.currency, list(last.sources)
        partner, customer = last.partner_key, last.customer_key
        event_at, payable_at, pending, note = last.event_at, last.payable_at, _pending_of(last), "no longer owed"
    seq = len(entries)
    place = placement(partner, customer, payable_at, pending)
    return LedgerEntry(
        entry_key=entry_key(key, seq),
        group_key=key,
        seq=seq,
        program=program,
        partner_key=partner,
        customer_key=customer,
        kind="clawback" if diff < 0 else group_kind,
        basis_minor=basis,
        rate=rate,
        amount_minor=diff,
        currency=currency,
        status=place.status,
        reason=place.reason,
        sources=sources,
        event_at=event_at,
        payable_at=payable_at,
        created_run_id=run_id,
        created_at=now,
        push_state=None,
        push_attempts=0,
        note=note if seq == 0 else f"correction: {note}" if note else "correction",
    )


def _pair_reversals(entries: list[Entry]) -> int:
    """Mark a positive entry and the negative entry that fully offsets it, neither pushed, `reversed`.

    The offsetting entry is a correction of the same group, or a clawback naming the
    positive entry's source (a full refund of a commissioned invoice).
    """
    candidates = sorted((e for e in entries if _is_open(e)), key=lambda e: e.entry_key)
    positives: dict[tuple[str, str | None, str, int], list[Entry]] = defaultdict(list)
    for e in candidates:
        if e.amount_minor > 0:
            positives[(e.partner_key, e.customer_key, e.currency, e.amount_minor)].append(e)
    reversed_count = 0
    for neg in (e for e in candidates if e.amount_minor < 0):
        for pos in positives.get((neg.partner_key, neg.customer_key, neg.currency, -neg.amount_minor), []):
            if pos.status == "reversed":
                continue
            if pos.group_key == neg.group_key or (bool(pos.sources) and pos.sources[0] in neg.sources):
                pos.status = neg.status = "reversed"
                pos.reason = neg.reason = "offset"
                reversed_count += 2
                break
    return reversed_count
