"""One compute pass: store -> facts -> decisions -> desired entries -> ledger differences."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.db import transaction
from connector.ledger import LedgerResult, entries_of_customers, ledger_customer_keys, reconcile_entries
from connector.models import Decision, Finding
from connector.programs import Program
from connector.rules.facts import load_customers, load_global
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


BATCH_SIZE = 200
"""Billing customers whose Stripe records and ledger entries are in memory at once (a module
constant so tests can shrink it to exercise batching)."""


def compute_in(session: Session, ctx: RunContext, program: Program) -> ComputeResult:
    """The whole pass inside the caller's transaction (the run commits or rolls back as one).

    Qualification is global (duplicates span customers, tiers span a partner's deals) and
    reads only the small tables; the Stripe records and the ledger are then read, computed
    and reconciled one batch of billing customers at a time, so memory is bounded by the
    batch. Every group of the ledger belongs to one customer, so batching changes nothing.
    """
    facts = load_global(session, ctx.as_of)
    verdicts = qualify(build_submissions(facts, program), facts, program)
    upsert_rows(session, Decision, _decision_rows(program, verdicts, ctx.run_id))
    billing_of = {
        v.submission.customer_key: v.submission.billing_customer_id
        for v in verdicts
        if v.submission.customer_key and v.submission.billing_customer_id
    }
    now = dt.datetime.now(dt.UTC)
    ledger = LedgerResult()
    findings: list[RuleFinding] = []
    qualified = [v for v in verdicts if v.decision == "qualified"]
    global_entries = None
    if program.commission.basis == "deal_value":  # needs only global facts; tiers span all deals
        kinds = desired_entries(program, facts, qualified)
        global_entries, findings = kinds.entries, list(kinds.findings)
    batches = list(_customer_batches(billing_of, qualified, session, program.name, BATCH_SIZE))
    batch_of = {key: n for n, keys in enumerate(batches) for key in keys}
    subs_of: dict[int, list[Verdict]] = defaultdict(list)  # per batch, in submission order
    for v in qualified:
        subs_of[batch_of[v.submission.customer_key]].append(v)
    for n, keys in enumerate(batches):
        batch = subs_of.pop(n, [])
        billing_ids = sorted(
            {billing_of[k] for k in keys if k in billing_of}
            | {v.submission.billing_customer_id for v in batch if v.submission.billing_customer_id}
        )
        batch_facts = load_customers(session, facts, billing_ids)
        if global_entries is None:
            kinds = desired_entries(program, batch_facts, batch)
            entries, more = kinds.entries, kinds.findings
            findings.extend(more)
        else:
            entries = [e for e in global_entries if batch_of.get(e.customer_key) == n]
        reconcile_entries(
            session, program.name, entries_of_customers(session, program.name, keys), entries,
            GatePolicy(program, batch_facts, billing_of), run_id=ctx.run_id, now=now, result=ledger,
        )  # fmt: skip
        del batch_facts, entries
    findings = sorted(set(findings), key=lambda f: (f.subject_key, f.code))
    for f in findings:
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
        findings=findings,
    )


def _customer_batches(
    billing_of: dict[str, str], qualified: list[Verdict], session: Session, program: str, size: int
) -> Iterator[set[str | None]]:
    """Sets of customer keys, whole billing customers at a time, covering every key the ledger or a
    qualified submission names: first those with a billing customer (gates and net revenue need
    its Stripe records), then the rest, which need none."""
    keys_of: dict[str, list[str]] = defaultdict(list)
    for key, billing in billing_of.items():
        keys_of[billing].append(key)
    billing_ids = sorted(keys_of)
    for i in range(0, len(billing_ids), size):
        yield {k for b in billing_ids[i : i + size] for k in keys_of[b]}
    rest: set[str | None] = {v.submission.customer_key for v in qualified} | ledger_customer_keys(session, program)
    rest -= set(billing_of)
    ordered = sorted(rest, key=lambda k: (k is not None, k or ""))
    for i in range(0, len(ordered), size):
        yield set(ordered[i : i + size])


def compute(ctx: RunContext, program: Program) -> ComputeResult:
    """Qualify every submission, append what changed to the ledger and move statuses forward."""
    with transaction(ctx.sessions) as session:
        return compute_in(session, ctx, program)
