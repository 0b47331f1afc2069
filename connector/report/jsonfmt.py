"""The JSON form of the report, in the shape `interfaces.md` fixes (more keys may follow)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from connector.money import iso_utc
from connector.report.model import Check, CurrencyTotals, EntryRow, Report

TOTAL_FIELDS = (
    "net_revenue_minor",
    "commission_minor",
    "bonus_minor",
    "clawback_minor",
    "total_minor",
    "scheduled_minor",
    "held_minor",
    "payable_minor",
    "pushed_minor",
    "reversed_minor",
    "entries",
)


def entry_dict(e: EntryRow) -> dict[str, Any]:
    return {
        "entry_key": e.entry_key,
        "partner_key": e.partnership_key,
        "customer_key": e.customer_key,
        "kind": e.kind,
        "basis_minor": e.basis_minor,
        "rate": e.rate,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "status": e.status,
        "reason": e.reason,
        "sources": list(e.sources),
        "payable_at": iso_utc(e.payable_at),
        "platform_reward_key": e.platform_reward_key,
        "platform_status": e.platform_status,
        "event_at": iso_utc(e.event_at),
        "group_key": e.group_key,
        "pushed_at": iso_utc(e.pushed_at),
        "created_run_id": e.created_run_id,
        "pushed_run_id": e.pushed_run_id,
        "payout_amount_minor": e.payout_amount_minor,
        "payout_currency": e.payout_currency,
        "fx_rate": e.fx_rate,
        "fx_date": e.fx_date.isoformat() if e.fx_date else None,
        "fx_source": e.fx_source,
        "note": e.note,
    }


def totals_dict(t: CurrencyTotals) -> dict[str, int]:
    return {name: int(getattr(t, name)) for name in TOTAL_FIELDS}


def check_dict(c: Check) -> dict[str, Any]:
    return {
        "name": c.name,
        "currency": c.currency,
        "statement": c.statement,
        "holds": c.holds,
        "exceptions": list(c.exceptions),
    }


def report_dict(report: Report) -> dict[str, Any]:
    run = report.run
    out: dict[str, Any] = {
        "run": {
            "id": run.id,
            "kind": run.kind,
            "as_of": iso_utc(run.as_of),
            "started_at": iso_utc(run.started_at),
            "finished_at": iso_utc(run.finished_at),
            "status": run.status,
            "program": run.program,
            "error": run.error,
        },
        "pulled": report.pulled,
        "streams": [asdict(s) for s in report.streams],
        "submissions": [
            {
                "partner_key": s.partnership_key,
                "submission_key": s.submission_key,
                "customer_key": s.customer_key,
                "decision": s.decision,
                "reason": s.reason,
                "submission_type": s.submission_type,
                "submitted_at": iso_utc(s.submitted_at),
            }
            for s in report.submissions
        ],
        "entries": [entry_dict(e) for e in report.entries],
        "quarantined": [
            {"source": q.source, "id": q.id, "error": q.error, "created_at": iso_utc(q.created_at)}
            for q in report.quarantined
        ],
        "findings": [asdict(f) for f in report.findings],
        "partners": [asdict(p) for p in report.partners],
        "notes": list(report.notes),
        "totals": {cur: totals_dict(t) for cur, t in report.totals.items()},
        "payout_totals": {cur: asdict(t) for cur, t in report.payout_totals.items()},
        "checks": [check_dict(c) for c in report.checks],
        "monthly": {
            cur: [{"month": p.month, "amount_minor": p.amount_minor} for p in points]
            for cur, points in report.monthly.items()
        },
    }
    if report.partner_key is not None:
        out["partner_key"] = report.partner_key
        out["partner_name"] = report.names().partner(report.partner_key)
        span = report.entry_dates  # the period the statement covers: its first and last entry date
        out["period"] = {"from": span[0], "to": span[1]} if span else None
    if report.payout_audit:  # approval before push was used: who approved what went out
        out["payout_audit"] = [
            {"at": iso_utc(a.at), "batch_id": a.batch_id, "action": a.action, "actor": a.actor, "note": a.note,
             "run_id": a.run_id, "detail": json.loads(a.detail)}
            for a in report.payout_audit
        ]  # fmt: skip
    return out


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"
