"""One compute pass: store -> facts -> decisions -> desired entries -> ledger differences."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.db import transaction
from connector.ledger import reconcile
from connector.models import Decision, Finding
from connector.programs import Program
from connector.rules.facts import load_facts
from connector.rules.gates import GatePolicy
from connector.rules.kinds import RuleFinding, desired_entries
from connector.rules.qualification import Verdict, build_submissions, qualify
from connector.store import upsert_rows


@dataclass
class ComputeResult:
    program: str
    decisions: dict[str, int] = field(default_factory=dict)  # by outcome
    rejected_reasons: dict[str, int] = field(default_factory=dict)
    entries_appended: int = 0
    appended_minor: dict[str, int] = field(default_factory=dict)  # per currency
    statuses_changed: int = 0
    reversed: int = 0
    findings: list[RuleFinding] = field(default_factory=list)


def _decision_rows(program: Program, verdicts: list[Verdict], run_id: str) -> list[dict[str, object]]:
    return [
        {
            "program": program.name,
            "submission_key": v.submission.key,
            "submission_type": v.submission.type,
            "partner_key": v.submission.partner.key if v.submission.partner else None,
            "customer_key": v.submission.customer_key,
            "decision": v.decision,
            "reason": v.reason,
            "submitted_at": v.submission.submitted_at,
            "run_id": run_id,
        }
        for v in verdicts
    ]


def compute_in(session: Session, ctx: RunContext, program: Program) -> ComputeResult:
    """The whole pass inside the caller's transaction (the run commits or rolls back as one)."""
    facts = load_facts(session, ctx.as_of)
    verdicts = qualify(build_submissions(facts, program), facts, program)
    upsert_rows(session, Decision, _decision_rows(program, verdicts, ctx.run_id))
    kinds = desired_entries(program, facts, verdicts)
    billing_of = {
        v.submission.customer_key: v.submission.billing_customer_id
        for v in verdicts
        if v.submission.customer_key and v.submission.billing_customer_id
    }
    policy = GatePolicy(program, facts, billing_of)
    ledger = reconcile(session, program.name, kinds.entries, policy, run_id=ctx.run_id, now=dt.datetime.now(dt.UTC))
    for f in kinds.findings:
        session.add(
            Finding(run_id=ctx.run_id, program=program.name, subject_key=f.subject_key, code=f.code, detail=f.detail)
        )
    session.flush()
    return ComputeResult(
        program=program.name,
        decisions=dict(Counter(v.decision for v in verdicts)),
        rejected_reasons=dict(Counter(v.reason for v in verdicts if v.decision == "rejected" and v.reason)),
        entries_appended=ledger.appended,
        appended_minor=dict(ledger.appended_minor),
        statuses_changed=ledger.statuses_changed,
        reversed=ledger.reversed,
        findings=kinds.findings,
    )


def compute(ctx: RunContext, program: Program) -> ComputeResult:
    """Qualify every submission, append what changed to the ledger and move statuses forward."""
    with transaction(ctx.sessions) as session:
        return compute_in(session, ctx, program)
