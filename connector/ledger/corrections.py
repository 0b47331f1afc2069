"""How the ledger follows the rules without editing the past: corrections, status moves, reversal pairs.

Each reward group's entries sum to what the group held so far; when the rules want another
total, one correction entry appends the difference (`#1`, `#2` …), and a group no longer owed
is taken back whole. Open entries then move to where the gates place them, and a positive entry
fully offset by a negative one (neither pushed) is marked `reversed` with it.

Pure: these functions decide on entries in memory; `connector.ledger.reconcile` reads and writes them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from connector.ledger.entries import Entry, entry_key, is_open, may_move, pending_of, set_payout
from connector.money import rate_str, round_half_up
from connector.rules.desired import DesiredEntry, Placement, PlacementPolicy, note_text
from connector.rules.notes import correction_note, num, takeback_note
from connector.rules.payout import FX_RATE_MISSING, PayoutRates
from connector.rules.ratekeys import RATE_UNKNOWN
from connector.store.models import LedgerEntry


def groups_to_correct(totals: Mapping[str, int], wanted: Mapping[str, DesiredEntry]) -> list[str]:
    """The groups whose stored total differs from the wanted one (a group not wanted any more wants 0),
    in key order, as the whole ledger corrects them. A `final` group already booked stands as booked."""
    differ = [
        key for key, d in wanted.items() if d.amount != (have := totals.get(key, 0)) and not (d.final and have != 0)
    ]
    # an unpriced event (its partner's group has no rate) is booked at 0, held `rate_unknown`: never silent
    differ.extend(key for key, d in wanted.items()
                  if key not in totals and d.amount == 0 and d.pending_reason == RATE_UNKNOWN)
    differ.extend(key for key, have in totals.items() if have != 0 and key not in wanted)
    return sorted(differ)


def correction(
    program: str,
    key: str,
    entries: Sequence[Entry],
    target: DesiredEntry | None,
    run_id: str | None,
    now: dt.datetime,
    placement: PlacementPolicy,
    payouts: PayoutRates | None = None,
) -> LedgerEntry:
    """The entry that brings group `key` (its `entries` so far, in seq order) to `target`'s amount,
    or back to zero when the group is no longer owed (`target` None); placed, and its payout recorded
    (`with_payout`), as `place_open` would place it."""
    diff = (target.amount if target is not None else 0) - sum(e.amount_minor for e in entries)
    last = entries[-1] if entries else None
    if target is not None:
        group_kind = target.kind
        basis = round_half_up(target.basis) - sum(e.basis_minor for e in entries)
        rate, currency, sources = rate_str(target.rate), target.currency, list(target.sources)
        partner, customer = target.partnership_key, target.customer_key
        event_at, payable_at, pending = target.event_at, target.payable_at, target.pending_reason
        note = note_text(target.note)
    else:  # the group is no longer owed (e.g. the submission stopped qualifying): take it back
        assert last is not None
        group_kind = entries[0].kind
        basis = -sum(e.basis_minor for e in entries)
        rate, currency, sources = last.rate, last.currency, list(last.sources)
        partner, customer = last.partnership_key, last.customer_key
        event_at, payable_at, pending, note = last.event_at, last.payable_at, pending_of(last), None
    seq = len(entries)
    new = LedgerEntry(
        entry_key=entry_key(key, seq),
        group_key=key,
        seq=seq,
        program=program,
        partnership_key=partner,
        customer_key=customer,
        kind="clawback" if diff < 0 else group_kind,
        basis_minor=basis,
        rate=rate,
        amount_minor=diff,
        currency=currency,
        sources=sources,
        event_at=event_at,
        payable_at=payable_at,
        created_run_id=run_id,
        created_at=now,
        push_state=None,
        push_attempts=0,
        note=explain_correction(entries, target, note),
    )
    place = with_payout(new, placement(partner, customer, payable_at, pending, sources), payouts)
    new.status, new.reason = place.status, place.reason
    return new


def explain_correction(entries: Sequence[Entry], target: DesiredEntry | None, note: str | None) -> str | None:
    """The note of the entry appended to a group: the rules' own note for a first entry; for a correction,
    which entries it corrects, what changed (basis, rate, sources), the difference and the new arithmetic;
    for a take-back (`target` None), why (`note`, else that the rules no longer give it)."""
    if not entries:
        return note
    keys = [e.entry_key for e in entries]
    booked = sum(e.amount_minor for e in entries)
    if target is None:
        return takeback_note(keys, booked, note)
    last, changed = entries[-1], []
    basis_before, basis_now = sum(e.basis_minor for e in entries), round_half_up(target.basis)
    if basis_now != basis_before:
        changed.append(f"basis {num(basis_before)} → {num(basis_now)}")
    if rate_str(target.rate) != last.rate:
        changed.append(f"rate {last.rate} → {rate_str(target.rate)}")
    if tuple(target.sources) != tuple(last.sources):
        changed.append(f"sources {' '.join(last.sources)} → {' '.join(target.sources)}")
    return correction_note(keys, booked, target.amount, changed, note)


def with_payout(entry: Entry, place: Placement, payouts: PayoutRates | None) -> Placement:
    """Record what the entry pays in the reward currency; a payable entry with no rate is held instead.

    Two holds apply to every program after its gates (programs.md), `fx_rate_missing` the last: an
    entry with no rate for its event date is not pushed as its own minor units. Without `payouts`
    (a caller that books no payouts) the placement stands and nothing is recorded.
    """
    if payouts is None:
        return place
    payout = payouts.payout(entry.amount_minor, entry.currency, entry.event_at)
    set_payout(entry, payout)
    if payout is None and place.status == "payable":
        return Placement("held", FX_RATE_MISSING)
    return place


def place_open(
    groups: Mapping[str, Sequence[Entry]],
    wanted: Mapping[str, DesiredEntry],
    placement: PlacementPolicy,
    payouts: PayoutRates | None = None,
) -> int:
    """Move every open entry to where `placement` puts it now, its payout recorded (`with_payout`);
    how many changed status.

    A wanted group's entries take its current payable date and pending reason; an entry of a
    group no longer wanted keeps its own.
    """
    changed = 0
    for key, entries in groups.items():
        target = wanted.get(key)
        for entry in entries:
            if not is_open(entry):
                continue
            payable_at = target.payable_at if target is not None else entry.payable_at
            pending = target.pending_reason if target is not None else pending_of(entry)
            place = placement(entry.partnership_key, entry.customer_key, payable_at, pending, entry.sources)
            place = with_payout(entry, place, payouts)
            if entry.amount_minor == 0 and (target is None or target.pending_reason != RATE_UNKNOWN):
                # an unpriced entry whose rate came (its group's correction carries the amount) or that is no
                # longer owed: it is done with, never sent
                place = Placement("reversed", "rate_found" if target is not None else "no_longer_owed")
            if place.reason is None and (entry.reason or "").startswith("requalified:"):
                place = Placement(place.status, entry.reason)  # a take-back keeps why it was taken (`requalify`)
            if entry.payable_at != payable_at:
                entry.payable_at = payable_at
            if may_move(entry.status, place.status) or (entry.status == place.status and entry.reason != place.reason):
                if entry.status != place.status:
                    changed += 1
                entry.status, entry.reason = place.status, place.reason
    return changed


def pair_reversals(entries: list[Entry]) -> int:
    """Mark a positive entry and the negative entry that fully offsets it, neither pushed, `reversed`.

    The offsetting entry is a correction of the same group, or a clawback naming the
    positive entry's source (a full refund of a commissioned invoice).
    """
    candidates = sorted((e for e in entries if is_open(e)), key=lambda e: e.entry_key)
    positives: dict[tuple[str, str | None, str, int], list[Entry]] = defaultdict(list)
    for e in candidates:
        if e.amount_minor > 0:
            positives[(e.partnership_key, e.customer_key, e.currency, e.amount_minor)].append(e)
    reversed_count = 0
    for neg in (e for e in candidates if e.amount_minor < 0):
        for pos in positives.get((neg.partnership_key, neg.customer_key, neg.currency, -neg.amount_minor), []):
            if pos.status == "reversed":
                continue
            if pos.group_key == neg.group_key or (bool(pos.sources) and pos.sources[0] in neg.sources):
                pos.status = neg.status = "reversed"
                pos.reason = neg.reason = "offset"
                reversed_count += 2
                break
    return reversed_count


def note_wake(wake: dict[str | None, dt.datetime], groups: Iterable[Sequence[Entry]]) -> None:
    """A scheduled entry with a date becomes payable (or held) once as-of reaches it; nothing else in
    the ledger moves by time alone (held and payable entries never go back to scheduled)."""
    for entries in groups:
        for e in entries:
            if e.status == "scheduled" and e.payable_at is not None and is_open(e):
                current = wake.get(e.customer_key)
                if current is None or e.payable_at < current:
                    wake[e.customer_key] = e.payable_at
