"""The append-only ledger: what the program promises, written as differences.

Each reward has a deterministic `group_key` (program|partnership|customer|kind|source). The
rules hand over the amount every group should total *now*; the ledger appends only the
difference to what the group already holds (`#0`, then `#1`, `#2` … corrections), so a
recompute over unchanged data writes nothing, and a late refund or tier change writes
exactly the correction. Amounts are never edited; only `status`, `reason` and
`payable_at` of entries that push has not touched move forward.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from connector.ledger.corrections import (
    correction,
    explain_correction,
    groups_to_correct,
    note_wake,
    pair_reversals,
    place_open,
)
from connector.ledger.entries import Entry, EntryRow, LedgerResult, moves_of
from connector.ledger.history import Stamp
from connector.ledger.requalify import Pair, TakeBack
from connector.ledger.store import LedgerSlice, whole_groups, whole_ledger, write
from connector.rules.desired import DesiredEntry, PlacementPolicy
from connector.rules.payout import PayoutRates
from connector.store.models import LedgerEntry


def reconcile(
    session: Session,
    program: str,
    desired: Iterable[DesiredEntry],
    placement: PlacementPolicy,
    *,
    run_id: str | None,
    now: dt.datetime,
    payouts: PayoutRates | None = None,
    as_of: dt.datetime | None = None,
) -> LedgerResult:
    """Append each group's difference, then move open entries to their current status (whole ledger)."""
    result = LedgerResult()
    ledger = whole_ledger(session, program)
    reconcile_entries(
        session, program, ledger, desired, placement, run_id=run_id, now=now, result=result, payouts=payouts,
        as_of=as_of,
    )
    return result


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
    payouts: PayoutRates | None = None,
    as_of: dt.datetime | None = None,
    takebacks: Mapping[Pair, TakeBack] | None = None,
) -> None:
    """Reconcile one slice of the ledger (whole customers) against the entries desired for it.

    Every group, correction and reversal pair stays within one (partnership, customer), so a
    slice holding whole customers reconciles exactly as the whole ledger would; `result`
    accumulates across slices. Groups are corrected in key order, as the whole ledger would be.
    `payouts` records each open entry's payout in the reward currency (compute always passes it).
    `as_of` (the run's, else `now`) dates the status history's rows.
    `takebacks` says why a pair's groups are no longer wanted when its submission was rejected after
    booking: the take-back carries its reason and note (`connector.ledger.requalify`).
    """
    wanted = {d.group_key: d for d in desired}
    differ = groups_to_correct(ledger.totals, wanted)
    groups = _groups_read(session, ledger, [key for key in differ if key in ledger.totals])
    read = [(row, moves_of(row)) for entries in groups.values() for row in entries if isinstance(row, EntryRow)]
    appended: list[LedgerEntry] = []
    for key in differ:
        entries = groups.setdefault(key, [])
        new = correction(program, key, entries, wanted.get(key), run_id, now, placement, payouts)
        pair = (new.partnership_key, new.customer_key)
        if takebacks and key not in wanted and (tb := takebacks.get(pair)):
            new.note = explain_correction(entries, None, tb.note())  # which entries it takes back, and why
            result.requalified.add(pair)
            if new.reason is None:
                new.reason = tb.reason
        appended.append(new)
        entries.append(new)
        result.appended += 1
        result.appended_minor[new.currency] += new.amount_minor
    result.statuses_changed += place_open(groups, wanted, placement, payouts)
    result.reversed += pair_reversals([e for entries in groups.values() for e in entries])
    note_wake(result.wake, groups.values())
    write(session, appended, read, program=program, stamp=Stamp(run_id, as_of or now, now))


def _groups_read(session: Session, ledger: LedgerSlice, stored: list[str]) -> dict[str, list[Entry]]:
    """The slice's open entries by group, and the `stored` groups (those to correct) whole, in seq order."""
    groups: dict[str, list[Entry]] = defaultdict(list)
    for row in ledger.open:
        groups[row.group_key].append(row)
    if stored:
        whole: dict[str, list[Entry]] = defaultdict(list)
        for row in whole_groups(session, ledger, stored):
            whole[row.group_key].append(row)
        groups.update(whole)
    return dict(groups)
