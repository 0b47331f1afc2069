"""What the store says an on-call engineer should look at, read after each scheduled run.

Held money by gate, quarantined records, the run's findings by kind and the oldest payable
entry (push lag) are facts of the store, not of one run: they are read from it, so a restarted
service reports them again after its first run instead of starting from zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connector.rules.invariants import PARKED_REASONS
from connector.store.models import Finding, LedgerEntry, Quarantine


@dataclass(frozen=True)
class HeldTotal:
    gate: str
    currency: str
    entries: int
    amount_minor: int


@dataclass
class StoreGauges:
    quarantined: int = 0
    parked: int = 0  # unresolved records a retry could not fix (`connector.pull.parking`)
    held: list[HeldTotal] = field(default_factory=list)
    findings: dict[str, int] = field(default_factory=dict)  # by kind (finding code), of the run
    oldest_payable: dt.datetime | None = None  # since when the oldest unpushed payable entry waits


def _held(session: Session, program: str) -> list[HeldTotal]:
    rows = session.execute(
        select(LedgerEntry.reason, LedgerEntry.currency, func.count(), func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.program == program, LedgerEntry.status == "held")
        .group_by(LedgerEntry.reason, LedgerEntry.currency)
    ).all()
    return [HeldTotal(gate or "unknown", currency, int(n), int(total or 0)) for gate, currency, n, total in rows]


def _oldest_payable(session: Session, program: str) -> dt.datetime | None:
    since = func.coalesce(LedgerEntry.payable_at, LedgerEntry.created_at)
    oldest = session.scalar(
        select(func.min(since)).where(LedgerEntry.program == program, LedgerEntry.status == "payable")
    )
    if isinstance(oldest, str):  # SQLite returns coalesce() of two timestamps as text
        oldest = dt.datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return oldest


def read_store_gauges(engine: Engine, program: str | None, run_id: str | None) -> StoreGauges:
    """The gauges for `program` (ledger ones left empty when it is not known, e.g. a run that
    failed before loading it) and the findings of `run_id`."""
    with Session(engine) as session:
        unresolved = select(func.count()).select_from(Quarantine).where(Quarantine.resolved_at.is_(None))
        gauges = StoreGauges(quarantined=session.scalar(unresolved) or 0)  # a resolved row needs no one
        gauges.parked = session.scalar(
            select(func.count()).select_from(Quarantine)
            .where(Quarantine.resolved_at.is_(None), Quarantine.reason.in_(PARKED_REASONS))
        ) or 0  # fmt: skip
        if program is not None:
            gauges.held = _held(session, program)
            gauges.oldest_payable = _oldest_payable(session, program)
        if run_id is not None:
            rows = session.execute(
                select(Finding.code, func.count()).where(Finding.run_id == run_id).group_by(Finding.code)
            ).all()
            gauges.findings = {code: int(n) for code, n in rows}
    return gauges
