"""Payout batches: what one run would push, frozen so that what finance approves is what goes out.

A batch holds the payable entries no live batch holds yet, each with a fingerprint of what it was
when the batch was built (amounts, payout, status, and how many entries its reward group had: a
correction adds one). The batch's content hash is the hash of those fingerprints, so two people
approving the same id approve the same money. An entry that no longer matches its fingerprint (a
correction appended to its group, a new hold, a changed FX payout) makes its batch *stale*: it is
not pushed, and the next build puts the entries still payable into a fresh batch.

An entry already pushed, or in flight (`sending`: a crash between the send and its record, which
the push's recovery settles), is done, not changed.

Store-level and free of any decision about *whether* to push: `connector.push.approval` decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.push.pages import payable
from connector.rules.reads.sql import in_lists
from connector.store.models import LedgerEntry, PayoutAudit, PayoutBatch, PayoutBatchEntry

LIVE = ("pending", "approved", "pushed")
"""A batch in one of these statuses holds its entries: they are not put into another batch."""

OPEN = ("pending", "approved")
"""Batches whose entries may still change under them (checked for staleness before every push)."""


def fingerprint(entry: LedgerEntry, group_size: int) -> str:
    """What an entry is, for approval: its amounts, payout, status and reason, and its group's size."""
    text = "|".join(
        str(v)
        for v in (entry.entry_key, entry.amount_minor, entry.currency, entry.payout_amount_minor,
                  entry.payout_currency, entry.status, entry.reason, group_size)
    )  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(fingerprints: Iterable[tuple[str, str]]) -> str:
    """The hash of a batch's (entry key, fingerprint) pairs, in key order."""
    h = hashlib.sha256()
    for key, print_ in sorted(fingerprints):
        h.update(f"{key}:{print_}\n".encode())
    return h.hexdigest()


def is_done(entry: LedgerEntry) -> bool:
    """Pushed, or in flight (the push's recovery settles a `sending` entry): no longer the batch's to judge."""
    return entry.status == "pushed" or entry.push_state in ("sending", "sent")


def group_sizes(session: Session, group_keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in in_lists(sorted(set(group_keys))):
        stmt = select(LedgerEntry.group_key, func.count()).where(LedgerEntry.group_key.in_(chunk))
        out.update((key, int(n)) for key, n in session.execute(stmt.group_by(LedgerEntry.group_key)))
    return out


def entries_by_key(session: Session, keys: Sequence[str]) -> dict[str, LedgerEntry]:
    out: dict[str, LedgerEntry] = {}
    for chunk in in_lists(sorted(set(keys))):
        rows = session.scalars(select(LedgerEntry).where(LedgerEntry.entry_key.in_(chunk)))
        out.update((e.entry_key, e) for e in rows)
    return out


def batch_entries(session: Session, batch_id: str) -> list[PayoutBatchEntry]:
    stmt = select(PayoutBatchEntry).where(PayoutBatchEntry.batch_id == batch_id).order_by(PayoutBatchEntry.entry_key)
    return list(session.scalars(stmt))


def changed_entries(session: Session, batch_id: str) -> list[str]:
    """The entries of the batch that are no longer what was approved (not done, fingerprint differs)."""
    frozen = batch_entries(session, batch_id)
    current = entries_by_key(session, [b.entry_key for b in frozen])
    sizes = group_sizes(session, [e.group_key for e in current.values()])
    changed = []
    for b in frozen:
        entry = current.get(b.entry_key)
        if entry is None or (not is_done(entry) and fingerprint(entry, sizes[entry.group_key]) != b.fingerprint):
            changed.append(b.entry_key)
    return changed


def audit(
    session: Session, program: str, batch_id: str, action: str, *, actor: str | None = None, note: str | None = None,
    run_id: str | None = None, detail: dict[str, Any] | None = None, at: dt.datetime | None = None,
) -> PayoutAudit:  # fmt: skip
    """Append one row to the audit table (the only write it takes)."""
    row = PayoutAudit(
        at=at or dt.datetime.now(dt.UTC), program=program, batch_id=batch_id, action=action, actor=actor, note=note,
        run_id=run_id, detail=detail or {},
    )  # fmt: skip
    session.add(row)
    return row


def mark_stale(session: Session, program: str, run_id: str | None) -> list[str]:
    """Open batches with an entry changed since they were built become `stale` (audited); their ids."""
    stale = []
    batches = session.scalars(
        select(PayoutBatch).where(PayoutBatch.program == program, PayoutBatch.status.in_(OPEN)).order_by(PayoutBatch.id)
    ).all()
    for batch in batches:
        changed = changed_entries(session, batch.id)
        if not changed:
            continue
        batch.status = "stale"
        batch.note = f"{len(changed)} entr(ies) changed after the batch was built: {', '.join(changed[:5])}"
        audit(session, program, batch.id, "stale", run_id=run_id, note=batch.note,
              detail={"changed": changed[:50], "changed_count": len(changed)})  # fmt: skip
        stale.append(batch.id)
    return stale


def _held_by_batches(session: Session, program: str) -> set[str]:
    stmt = (
        select(PayoutBatchEntry.entry_key)
        .join(PayoutBatch, PayoutBatch.id == PayoutBatchEntry.batch_id)
        .where(PayoutBatch.program == program, PayoutBatch.status.in_(LIVE))
    )
    return set(session.scalars(stmt))


def _rejected_prints(session: Session, program: str) -> set[tuple[str, str]]:
    stmt = (
        select(PayoutBatchEntry.entry_key, PayoutBatchEntry.fingerprint)
        .join(PayoutBatch, PayoutBatch.id == PayoutBatchEntry.batch_id)
        .where(PayoutBatch.program == program, PayoutBatch.status == "rejected")
    )
    return {(k, f) for k, f in session.execute(stmt)}


def build_batch(
    session: Session, program: str, run_id: str, payout_currency: str, second_approval_over: int | None,
    now: dt.datetime | None = None,
) -> PayoutBatch | None:  # fmt: skip
    """The run's batch: every payable entry no live batch holds, less those a rejection still covers
    (rejected as they are now: one that changes since is offered again). None when there is none."""
    now = now or dt.datetime.now(dt.UTC)
    held = _held_by_batches(session, program)
    rejected = _rejected_prints(session, program)
    candidates = [
        e for e in session.scalars(select(LedgerEntry).where(*payable(program), LedgerEntry.push_state.is_(None)))
        if e.entry_key not in held
    ]  # fmt: skip
    if not candidates:
        return None
    sizes = group_sizes(session, [e.group_key for e in candidates])
    prints = {e.entry_key: fingerprint(e, sizes[e.group_key]) for e in candidates}
    chosen = sorted((e for e in candidates if (e.entry_key, prints[e.entry_key]) not in rejected),
                    key=lambda e: e.entry_key)  # fmt: skip
    if not chosen:
        return None
    digest = content_hash((e.entry_key, prints[e.entry_key]) for e in chosen)
    batch_id = "b-" + hashlib.sha256(f"{program}|{run_id}|{digest}".encode()).hexdigest()[:10]
    out = sum(e.payout_amount_minor or 0 for e in chosen if (e.payout_amount_minor or 0) > 0)
    needed = 2 if second_approval_over is not None and out > second_approval_over else 1
    batch = PayoutBatch(
        id=batch_id, program=program, run_id=run_id, created_at=now, content_hash=digest, status="pending",
        approvals_needed=needed, payout_currency=payout_currency, payout_out_minor=out, entries=len(chosen), note=None,
    )  # fmt: skip
    session.add(batch)
    session.add_all(
        PayoutBatchEntry(
            batch_id=batch_id, entry_key=e.entry_key, partnership_key=e.partnership_key, kind=e.kind,
            amount_minor=e.amount_minor, currency=e.currency, payout_amount_minor=e.payout_amount_minor,
            payout_currency=e.payout_currency, fingerprint=prints[e.entry_key],
        )  # fmt: skip
        for e in chosen
    )
    view = summarize(batch, [_frozen(batch_id, e, prints[e.entry_key]) for e in chosen], [])
    audit(session, program, batch_id, "built", run_id=run_id, at=now,
          detail={"entries": len(chosen), "content_hash": digest, "approvals_needed": needed,
                  "payout": view.payout_totals, "amounts": view.totals})  # fmt: skip
    return batch


def _frozen(batch_id: str, e: LedgerEntry, print_: str) -> PayoutBatchEntry:
    return PayoutBatchEntry(
        batch_id=batch_id, entry_key=e.entry_key, partnership_key=e.partnership_key, kind=e.kind,
        amount_minor=e.amount_minor, currency=e.currency, payout_amount_minor=e.payout_amount_minor,
        payout_currency=e.payout_currency, fingerprint=print_,
    )  # fmt: skip


# ---------------------------------------------------------------- what `connector payouts` shows


@dataclass
class PartnerLine:
    partnership_key: str
    amounts: dict[str, int] = field(default_factory=dict)  # entry currency -> minor units
    payout: dict[str, int] = field(default_factory=dict)  # payout currency -> minor units
    entries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # kind -> entries


@dataclass
class BatchView:
    id: str
    program: str
    run_id: str
    created_at: dt.datetime
    status: str
    content_hash: str
    approvals_needed: int
    approvers: list[str]
    entries: int
    totals: dict[str, int]  # entry currency -> minor units
    payout_totals: dict[str, int]  # payout currency -> minor units
    payout_out_minor: int
    payout_currency: str
    note: str | None
    partners: list[PartnerLine]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "program": self.program, "run_id": self.run_id, "created_at": self.created_at.isoformat(),
            "status": self.status, "content_hash": self.content_hash, "approvals_needed": self.approvals_needed,
            "approvers": self.approvers, "entries": self.entries, "totals_minor": self.totals,
            "payout_totals_minor": self.payout_totals, "payout_out_minor": self.payout_out_minor,
            "payout_currency": self.payout_currency, "note": self.note,
            "partners": [
                {"partner_key": p.partnership_key, "amounts_minor": p.amounts, "payout_minor": p.payout,
                 "entries": p.entries, "reasons": p.reasons}
                for p in self.partners
            ],
        }  # fmt: skip


def summarize(batch: PayoutBatch, frozen: Sequence[PayoutBatchEntry], approvers: list[str]) -> BatchView:
    """A batch per partner: amount per currency, payout, entries and their kinds (the reasons they pay)."""
    partners: dict[str, PartnerLine] = {}
    totals: Counter[str] = Counter()
    payout: Counter[str] = Counter()
    for b in frozen:
        line = partners.setdefault(b.partnership_key, PartnerLine(b.partnership_key))
        line.amounts[b.currency] = line.amounts.get(b.currency, 0) + b.amount_minor
        totals[b.currency] += b.amount_minor
        if b.payout_currency is not None and b.payout_amount_minor is not None:
            line.payout[b.payout_currency] = line.payout.get(b.payout_currency, 0) + b.payout_amount_minor
            payout[b.payout_currency] += b.payout_amount_minor
        line.entries += 1
        line.reasons[b.kind] = line.reasons.get(b.kind, 0) + 1
    return BatchView(
        id=batch.id, program=batch.program, run_id=batch.run_id, created_at=batch.created_at, status=batch.status,
        content_hash=batch.content_hash, approvals_needed=batch.approvals_needed, approvers=approvers,
        entries=batch.entries, totals=dict(sorted(totals.items())), payout_totals=dict(sorted(payout.items())),
        payout_out_minor=batch.payout_out_minor, payout_currency=batch.payout_currency, note=batch.note,
        partners=[partners[k] for k in sorted(partners)],
    )  # fmt: skip


def approvers_of(session: Session, batch_ids: Sequence[str]) -> dict[str, list[str]]:
    """Who approved each batch, in order."""
    out: dict[str, list[str]] = defaultdict(list)
    for chunk in in_lists(sorted(set(batch_ids))):
        stmt = (
            select(PayoutAudit.batch_id, PayoutAudit.actor)
            .where(PayoutAudit.batch_id.in_(chunk), PayoutAudit.action == "approved")
            .order_by(PayoutAudit.id)
        )
        for batch_id, actor in session.execute(stmt):
            out[batch_id].append(actor or "")
    return dict(out)


def batch_views(session: Session, program: str | None, statuses: Sequence[str] | None) -> list[BatchView]:
    """The batches (of `program`, in `statuses`; None: all), oldest first."""
    stmt = select(PayoutBatch).order_by(PayoutBatch.created_at, PayoutBatch.id)
    if program is not None:
        stmt = stmt.where(PayoutBatch.program == program)
    if statuses is not None:
        stmt = stmt.where(PayoutBatch.status.in_(list(statuses)))
    batches = list(session.scalars(stmt))
    approvers = approvers_of(session, [b.id for b in batches])
    return [summarize(b, batch_entries(session, b.id), approvers.get(b.id, [])) for b in batches]
