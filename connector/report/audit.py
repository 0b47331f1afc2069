"""The payout approval audit as the report shows it: every batch the run built, made stale or pushed
from, with each of those batches' whole history (built, approved by whom, rejected, stale, pushed).

Empty (and every renderer leaves the section out) when approval was never used.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.report.model import AuditRow
from connector.store.models import PayoutAudit


def audit_rows(session: Session, run_id: str) -> list[AuditRow]:
    touched = select(PayoutAudit.batch_id).where(PayoutAudit.run_id == run_id).distinct()
    rows = session.scalars(select(PayoutAudit).where(PayoutAudit.batch_id.in_(touched)).order_by(PayoutAudit.id))
    return [
        AuditRow(at=r.at, batch_id=r.batch_id, action=r.action, actor=r.actor, note=r.note, run_id=r.run_id,
                 detail=json.dumps(r.detail or {}, sort_keys=True, separators=(",", ":")))
        for r in rows
    ]  # fmt: skip
