"""The quarantine as the rules see it: who unresolved rows hold, and the invariant rows a compute keeps.

A quarantined record may feed results other entries depend on: a deal counts toward its
partner's tier ordinals, an invoice may be its customer's first purchase, a refund takes money
back. While such a row is unresolved, its billing customer's (or partner's) unpushed entries are
held `upstream_quarantined` (`connector.rules.gates.GatePolicy`). The pull writes and resolves
rows for records it could not store; a compute writes and resolves the rows of
`connector.rules.invariants`, for the billing customers it checked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.rules.invariants import INVARIANT_REASONS, Holds, Violation
from connector.rules.reads.sql import in_lists
from connector.store.models import ChangeClock, Quarantine
from connector.store.writes import quarantine, resolve_quarantined


def open_holds(session: Session) -> Holds:
    """The billing customers and partner keys of every unresolved quarantine row the pull wrote that
    names one. The invariant rows are judged again by each compute of a program that reads
    adjustments (`keep_violations`), and hold nothing in a program that does not."""
    holds = Holds()
    stmt = select(Quarantine.customer_id, Quarantine.partner_key).where(
        Quarantine.resolved_at.is_(None),
        Quarantine.reason.is_(None) | Quarantine.reason.not_in(sorted(INVARIANT_REASONS)),
        (Quarantine.customer_id.is_not(None)) | (Quarantine.partner_key.is_not(None)),
    )
    for customer_id, partner_key in session.execute(stmt):
        if customer_id:
            holds.billing_ids.add(customer_id)
        if partner_key:
            holds.partner_keys.add(partner_key)
    return holds


def open_invariant_customers(session: Session) -> set[str]:
    """The billing customers with an unresolved invariant row: only their batches can resolve one."""
    stmt = select(Quarantine.customer_id).where(
        Quarantine.resolved_at.is_(None),
        Quarantine.reason.in_(sorted(INVARIANT_REASONS)),
        Quarantine.customer_id.is_not(None),
    )
    return {c for c in session.scalars(stmt) if c is not None}


def keep_violations(
    session: Session, run_id: str, checked: Collection[str], violations: Iterable[Violation]
) -> None:
    """Quarantine each violation not already quarantined, and resolve the invariant rows of the
    `checked` billing customers that no longer break (fixed upstream since).

    Runs inside a compute, which has already applied what these rows hold: they are stamped with
    its own mark (the clock moved one past it as the compute began), so the next incremental
    compute does not take them for a change and recompute their customers again."""
    found = {(v.source, v.source_id, v.reason): v for v in violations}
    open_rows: dict[tuple[str, str | None, str | None], int] = {}
    for chunk in in_lists(sorted(checked)):
        stmt = select(Quarantine.id, Quarantine.source, Quarantine.source_id, Quarantine.reason).where(
            Quarantine.resolved_at.is_(None),
            Quarantine.reason.in_(sorted(INVARIANT_REASONS)),
            Quarantine.customer_id.in_(chunk),
        )
        for row_id, source, source_id, reason in session.execute(stmt):
            open_rows[(source, source_id, reason)] = row_id
    for key, v in found.items():
        if key not in open_rows:
            quarantine(
                session, run_id=run_id, source=v.source, source_id=v.source_id, error=f"{v.reason}: {v.detail}",
                reason=v.reason, customer_id=v.customer_id, seq=_MARK,
            )  # fmt: skip
    fixed = [row_id for key, row_id in open_rows.items() if key not in found]
    for ids in in_lists(sorted(fixed)):
        resolve_quarantined(session, run_id, Quarantine.id.in_(ids), seq=_MARK)


_MARK = select(ChangeClock.seq - 1).where(ChangeClock.id == 1).scalar_subquery()
"""The running compute's mark (see `connector.rules.reads.changes.advance_clock`)."""
