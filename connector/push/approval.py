"""Approval before push (`[push] approval = "required"`): only approved, unchanged batches go out.

Before the outbox is read, the push (`ApprovalGate.open`) marks stale every open batch with an entry
changed since it was built, then gathers the payable entries no live batch holds into this run's
batch (`connector.push.batches`), which waits for `connector approve`. The outbox then sends only
entries of approved batches; exactly once is the outbox's own (the same three commits, the same
recovery after a crash), approval only narrows what it offers. After the push, each approved batch
the run sent from gets a `pushed` audit row with what went out, and becomes `pushed` once every
entry is on the platform.

`approve` and `reject` are what the CLI calls, under the run lock so a push never races them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.money import format_money
from connector.push.batches import (
    approvers_of,
    audit,
    batch_entries,
    build_batch,
    changed_entries,
    entries_by_key,
    mark_stale,
)
from connector.rules.program import Program
from connector.store.db import transaction
from connector.store.models import LedgerEntry, PayoutAudit, PayoutBatch, PayoutBatchEntry


class ApprovalError(Exception):
    """An approval or rejection that cannot be recorded; the message says why (exit 1)."""


class BatchNotFound(LookupError):
    """No batch has that id (bad usage, exit 2)."""


@dataclass
class ApprovalGate:
    """The entries this run may push: those of approved batches, read once before the outbox."""

    allowed: set[str]
    batches: list[str]
    stale: list[str] = field(default_factory=list)
    built: str | None = None

    def only(self, page: list[str]) -> list[str]:
        return [key for key in page if key in self.allowed]

    @classmethod
    def open(cls, ctx: RunContext, program: Program) -> ApprovalGate | None:
        """None when approval is off; else stale batches marked, this run's batch built, the approved read."""
        if ctx.settings.push.approval != "required":
            return None
        name = program.name
        with transaction(ctx.sessions) as session:
            stale = mark_stale(session, name, ctx.run_id)
            built = build_batch(session, name, ctx.run_id, ctx.settings.partnerstack.reward_currency,
                                ctx.settings.push.second_approval_over)  # fmt: skip
            built_id = built.id if built is not None else None
            approved = list(session.scalars(
                select(PayoutBatch.id).where(PayoutBatch.program == name, PayoutBatch.status == "approved")
            ))  # fmt: skip
            allowed = set(session.scalars(
                select(PayoutBatchEntry.entry_key).where(PayoutBatchEntry.batch_id.in_(approved or [""]))
            ))  # fmt: skip
        gate = cls(allowed, sorted(approved), stale, built_id)
        for batch_id in stale:
            ctx.notes.append(f"payout batch {batch_id} is stale (an entry changed after it was built): not pushed")
        if built_id is not None:
            ctx.notes.append(f"payout batch {built_id} built: waits for `connector approve {built_id} --by NAME`")
        return gate

    def record(self, ctx: RunContext, program: Program) -> None:
        """After the push: a `pushed` audit row per approved batch this run sent from (entries found on the
        platform after a crash count for the run that found them); a batch fully on the platform is `pushed`."""
        if not self.batches:
            return
        with transaction(ctx.sessions) as session:
            for batch_id in self.batches:
                record_pushed(session, program.name, batch_id, ctx.run_id)


def record_pushed(session: Session, program: str, batch_id: str, run_id: str) -> None:
    """Audit what of the batch reached the platform since its last `pushed` row (a run killed after
    recording its rewards but before its audit row leaves them to the next run's row, so the rows
    always add up to what is on the platform); a batch wholly on the platform becomes `pushed`."""
    frozen = batch_entries(session, batch_id)
    current = entries_by_key(session, [b.entry_key for b in frozen])
    pushed = [e for e in current.values() if e.status == "pushed"]
    payout: Counter[str] = Counter()
    for e in pushed:
        if e.payout_currency is not None and e.payout_amount_minor is not None:
            payout[e.payout_currency] += e.payout_amount_minor
    counted, counted_payout = 0, Counter[str]()
    for detail in session.scalars(
        select(PayoutAudit.detail).where(PayoutAudit.batch_id == batch_id, PayoutAudit.action == "pushed")
    ):
        counted += int(detail.get("entries", 0))
        counted_payout.update({k: int(v) for k, v in detail.get("payout", {}).items()})
    if len(pushed) > counted:
        payout.subtract(counted_payout)
        audit(session, program, batch_id, "pushed", run_id=run_id,
              detail={"entries": len(pushed) - counted, "payout": {k: v for k, v in sorted(payout.items()) if v}})
    if frozen and len(pushed) == len(frozen):
        batch = session.get(PayoutBatch, batch_id)
        if batch is not None and batch.status == "approved":
            batch.status = "pushed"


def _batch(session: Session, batch_id: str) -> PayoutBatch:
    batch = session.get(PayoutBatch, batch_id, with_for_update=True)
    if batch is None:
        raise BatchNotFound(f"no payout batch {batch_id!r}: `connector payouts` lists them")
    return batch


def _fresh_or_stale(session: Session, batch: PayoutBatch, actor: str) -> None:
    """Raise (after marking it stale, audited) if an entry of the batch changed since it was built."""
    changed = changed_entries(session, batch.id)
    if changed:
        batch.status = "stale"
        batch.note = f"{len(changed)} entr(ies) changed after the batch was built: {', '.join(changed[:5])}"
        audit(session, batch.program, batch.id, "stale", actor=actor, note=batch.note,
              detail={"changed": changed[:50], "changed_count": len(changed)})  # fmt: skip


def approve(session: Session, batch_id: str, by: str, note: str | None = None) -> PayoutBatch:
    """Record `by`'s approval; the batch is approved once it has as many different approvers as it needs."""
    by = by.strip()
    if not by:
        raise ApprovalError("--by needs a name")
    batch = _batch(session, batch_id)
    if batch.status != "pending":
        raise ApprovalError(f"payout batch {batch_id} is {batch.status}: only a pending batch can be approved")
    _fresh_or_stale(session, batch, by)
    if batch.status == "stale":
        return batch
    earlier = approvers_of(session, [batch_id]).get(batch_id, [])
    if by.casefold() in {a.casefold() for a in earlier}:
        raise ApprovalError(f"{by} already approved payout batch {batch_id}: a second, different approver is needed")
    audit(session, batch.program, batch_id, "approved", actor=by, note=note,
          detail={"approval": len(earlier) + 1, "of": batch.approvals_needed, "content_hash": batch.content_hash})
    if len(earlier) + 1 >= batch.approvals_needed:
        batch.status = "approved"
    return batch


def reject(session: Session, batch_id: str, by: str, note: str) -> PayoutBatch:
    """Reject a batch not yet pushed: its entries stay unpushed with the note (and are not offered again
    until they change)."""
    by, note = by.strip(), note.strip()
    if not by or not note:
        raise ApprovalError("a rejection needs --by NAME and --note TEXT")
    batch = _batch(session, batch_id)
    if batch.status not in ("pending", "approved"):
        raise ApprovalError(f"payout batch {batch_id} is {batch.status}: only a pending or approved batch can be "
                            "rejected")  # fmt: skip
    pushed = session.scalars(
        select(LedgerEntry.entry_key)
        .join(PayoutBatchEntry, PayoutBatchEntry.entry_key == LedgerEntry.entry_key)
        .where(PayoutBatchEntry.batch_id == batch_id, LedgerEntry.push_state.in_(["sending", "sent"]))
        .limit(1)
    ).first()
    if pushed is not None:
        raise ApprovalError(f"payout batch {batch_id} is being pushed already ({pushed}): too late to reject")
    batch.status = "rejected"
    batch.note = note
    audit(session, batch.program, batch_id, "rejected", actor=by, note=note,
          detail={"content_hash": batch.content_hash})  # fmt: skip
    return batch


def describe(batch: PayoutBatch) -> str:
    """One line: what the batch is now and how much it pays out."""
    out = format_money(batch.payout_out_minor, batch.payout_currency)
    return f"payout batch {batch.id} {batch.status}: {batch.entries} entries, {out} out"
