"""One compute pass: store -> facts -> decisions -> desired entries -> ledger differences.

A pass is *full* (every customer) or *incremental* (only the customers whose result can
differ from what the last compute wrote). Both produce exactly the same ledger, decisions
and findings; incremental is the scheduled sync's default, and falls back to full whenever
it cannot prove what changed: no state yet, another program file or rules code, an as-of
time earlier than the last compute's, a change to products or prices.

What an incremental pass recomputes (`_affected`): the customers whose mirror rows changed
(`changes.py`), whose decision changed (qualification always runs over everything: a new
lead can make another a duplicate), whose partner changed, and whose recheck time has come
(a due date passed, a scheduled entry fell due, a record became visible). With nothing
changed and nothing due it reads no customer at all.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.ledger.book import LedgerResult, entries_of_customers, ledger_customer_keys, reconcile_entries
from connector.rules.gates import GatePolicy
from connector.rules.kinds import RuleFinding, desired_entries
from connector.rules.program import Program
from connector.rules.qualification import Verdict, build_submissions, qualify
from connector.rules.reads.changes import Changes, adopt_unstamped, advance_clock, changes_since
from connector.rules.reads.facts import Needs, earliest, load_customers, load_global
from connector.rules.reads.sql import padded
from connector.rules.reads.state import (
    DecisionChanges,
    decision_counts,
    due_customers,
    previous_findings,
    program_digest,
    replace_rechecks,
    save_state,
    stored_decisions,
    write_decisions,
)
from connector.store.db import transaction
from connector.store.models import ComputeState, Finding, LedgerEntry

log = logging.getLogger(__name__)


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
    mode: str = "full"  # full | incremental
    full_reason: str | None = None  # why the pass was full
    customers_recomputed: int = 0  # customer keys whose entries were computed and reconciled


def _decision_rows(program: Program, verdicts: list[Verdict], run_id: str) -> Iterator[dict[str, object]]:
    """One row per verdict, made as `write_decisions` reads them (it keeps only the changed ones)."""
    return (
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
    )


BATCH_SIZE = 200
"""Billing customers whose Stripe records and ledger entries are in memory at once (a module
constant so tests can shrink it to exercise batching)."""


def compute_in(session: Session, ctx: RunContext, program: Program, *, incremental: bool = False) -> ComputeResult:
    """The whole pass inside the caller's transaction (the run commits or rolls back as one).

    `incremental` asks for the incremental pass; it runs full when it cannot be sure (see the
    module docstring), and `ComputeResult.mode` says which ran.
    """
    clock = advance_clock(session)
    tick = 1 if clock is None else clock
    digest = program_digest(program)
    state = session.get(ComputeState, program.name)
    reason = _full_reason(state, ctx.as_of, digest) if incremental else "full pass requested"
    if reason is None and clock is None:
        reason = "the change clock was reset"
    changes: Changes | None = None
    due: set[str | None] = set()
    if reason is None:
        assert state is not None
        changes = changes_since(session, state.mark)
        due = due_customers(session, program.name, ctx.as_of)
        if changes.catalogue:
            reason = "products or prices changed"
    if reason is None and state is not None and changes is not None and _nothing_to_do(state, ctx.as_of, changes, due):
        result, recheck_at = _unchanged(session, ctx, program, state), state.recheck_at
    else:
        previous = state.run_id if reason is None and state is not None else None
        with _heap_frozen():
            result, recheck_at = _pass(session, ctx, program, changes if reason is None else None, due, previous)
        result.mode, result.full_reason = ("incremental", None) if reason is None else ("full", reason)
    if result.mode == "full" and incremental:
        log.info("compute ran full", extra={"program": program.name, "reason": reason})
    adopt_unstamped(session, tick)
    save_state(
        session, program.name, mark=tick, as_of=ctx.as_of, digest=digest, recheck_at=recheck_at, run_id=ctx.run_id
    )
    session.flush()
    return result


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep the cyclic garbage collector off what a pass holds for its whole length.

    A full pass allocates millions of short-lived objects, and what survives a batch's young
    collections reaches the oldest generation, so full collections ran every few batches and
    walked the whole heap each time: the interpreter, the global facts, the verdicts (at M, 14
    of them cost more than a tenth of the pass). `gc.freeze` (constant time) moves what exists
    into a generation no collection walks; the pass freezes again once the global facts are read.
    Frozen objects are still freed by reference counting; only a reference cycle made frozen would
    wait for `gc.unfreeze`, at the end of the pass.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _full_reason(state: ComputeState | None, as_of: dt.datetime, digest: str) -> str | None:
    if state is None:
        return "no earlier compute"
    if state.digest != digest:
        return "the program or the rules changed"
    if as_of < state.as_of:
        return "as-of time earlier than the last compute's"
    return None


def _nothing_to_do(state: ComputeState, as_of: dt.datetime, changes: Changes, due: set[str | None]) -> bool:
    return not changes.any and not due and (state.recheck_at is None or state.recheck_at > as_of)


def _unchanged(session: Session, ctx: RunContext, program: Program, state: ComputeState) -> ComputeResult:
    """Nothing changed and no time has come: the decisions stand, the findings carry over to this run."""
    decisions, rejected = decision_counts(session, program.name)
    findings = _sorted(previous_findings(session, program.name, state.run_id))
    _write_findings(session, ctx.run_id, program.name, findings)
    return ComputeResult(
        program=program.name, decisions=decisions, rejected_reasons=rejected, findings=findings, mode="incremental"
    )


def _pass(
    session: Session,
    ctx: RunContext,
    program: Program,
    changes: Changes | None,
    due: set[str | None],
    previous_run: str | None,
) -> tuple[ComputeResult, dt.datetime | None]:
    """Qualify everything, then compute and reconcile every customer (`changes` None) or the affected ones.

    Qualification is global (duplicates span customers, tiers span a partner's deals) and
    reads only the small tables; the Stripe records and the ledger are then read, computed
    and reconciled one batch of billing customers at a time, so memory is bounded by the
    batch. Every group of the ledger belongs to one customer, so batching changes nothing.
    """
    facts = load_global(session, ctx.as_of)
    submissions = build_submissions(facts, program)
    facts.leads, facts.referrals = [], []  # the submissions keep what the rules need of them
    verdicts = qualify(submissions, facts, program)
    del submissions
    gc.freeze()  # the global facts and the verdicts live through the pass (see `_heap_frozen`)
    decided = write_decisions(
        session, program.name, _decision_rows(program, verdicts, ctx.run_id), stored_decisions(session, program.name)
    )
    billing_of = {
        v.submission.customer_key: v.submission.billing_customer_id
        for v in verdicts
        if v.submission.customer_key and v.submission.billing_customer_id
    }
    scope = None if changes is None else _affected(session, program, verdicts, billing_of, changes, decided, due)
    now = dt.datetime.now(dt.UTC)
    ledger = LedgerResult()
    findings: list[RuleFinding] = []
    qualified = [v for v in verdicts if v.decision == "qualified"]
    global_entries = None
    if program.commission.basis == "deal_value":  # needs only global facts; tiers span all deals
        kinds = desired_entries(program, facts, qualified)
        global_entries, findings = kinds.entries, list(kinds.findings)
    batches = list(_customer_batches(billing_of, qualified, session, program.name, BATCH_SIZE, scope))
    batch_of = {key: n for n, keys in enumerate(batches) for key in keys}
    subs_of: dict[int, list[Verdict]] = defaultdict(list)  # per batch, in submission order
    for v in qualified:
        if (n := batch_of.get(v.submission.customer_key)) is not None:
            subs_of[n].append(v)
    wake: dict[str | None, dt.datetime] = {}
    needs = Needs.of(program)
    partner_gates: dict[str, str | None] = {}  # judged once per pass, shared by the batches
    for n, keys in enumerate(batches):
        batch = subs_of.pop(n, [])
        billing_ids = sorted(
            {billing_of[k] for k in keys if k in billing_of}
            | {v.submission.billing_customer_id for v in batch if v.submission.billing_customer_id}
        )
        batch_facts = load_customers(session, facts, billing_ids, needs)
        if global_entries is None:
            kinds = desired_entries(program, batch_facts, batch)
            entries, more = kinds.entries, kinds.findings
            findings.extend(more)
        else:
            entries = [e for e in global_entries if batch_of.get(e.customer_key) == n]
        reconcile_entries(
            session, program.name, entries_of_customers(session, program.name, keys), entries,
            GatePolicy(program, batch_facts, billing_of, partner_gates), run_id=ctx.run_id, now=now, result=ledger,
        )  # fmt: skip
        for key in keys:
            billing = billing_of.get(key) if key is not None else None
            at = earliest(ledger.wake.pop(key, None), batch_facts.wake.get(billing) if billing else None)
            if at is not None:
                wake[key] = at
        del batch_facts, entries
    replace_rechecks(session, program.name, None if scope is None else batch_of.keys(), wake)
    if scope is not None and global_entries is None and previous_run is not None:
        # the other customers' findings stand as the last compute wrote them
        redone = {v.submission.key for v in verdicts if v.submission.customer_key in batch_of} | decided.keys
        kept = previous_findings(session, program.name, previous_run)
        findings.extend(f for f in kept if f.subject_key not in redone)
    findings = _sorted(findings)
    _write_findings(session, ctx.run_id, program.name, findings)
    result = ComputeResult(
        program=program.name,
        decisions=dict(Counter(v.decision for v in verdicts)),
        rejected_reasons=dict(Counter(v.reason for v in verdicts if v.decision == "rejected" and v.reason)),
        entries_appended=ledger.appended,
        appended_minor=dict(ledger.appended_minor),
        statuses_changed=ledger.statuses_changed,
        reversed=ledger.reversed,
        findings=findings,
        customers_recomputed=len(batch_of),
    )
    return result, facts.global_wake


def _affected(
    session: Session,
    program: Program,
    verdicts: list[Verdict],
    billing_of: dict[str, str],
    changes: Changes,
    decided: DecisionChanges,
    due: set[str | None],
) -> set[str | None]:
    """The customer keys whose entries can differ from what the ledger holds; a superset is safe."""
    scope: set[str | None] = set(due) | decided.customers
    for v in verdicts:
        s = v.submission
        if (
            (s.partner is not None and s.partner.key in changes.partners)
            or s.key in changes.leads
            or s.key in changes.referrals
            or s.key in changes.deals
            or (s.referral_key is not None and s.referral_key in changes.referrals)
            or (s.billing_customer_id is not None and s.billing_customer_id in changes.billing_ids)
        ):
            scope.add(s.customer_key)
    if changes.partners:  # gates and rates are the partner's: every customer it has entries for
        scope |= _ledger_customers_of(session, program.name, changes.partners)
    if program.commission.basis == "deal_value":  # a partner's tier counts all its deals: take them all
        partners = set(decided.partners)
        partners.update(v.submission.partner.key for v in verdicts if v.submission.partner and _in(v, scope))
        scope.update(v.submission.customer_key for v in verdicts if v.submission.partner and _partner(v) in partners)
    billing = changes.billing_ids | {billing_of[k] for k in scope if k is not None and k in billing_of}
    scope.update(k for k, b in billing_of.items() if b in billing)  # whole billing customers, as a full pass batches
    return scope


def _in(v: Verdict, scope: set[str | None]) -> bool:
    return v.submission.customer_key in scope


def _partner(v: Verdict) -> str | None:
    return v.submission.partner.key if v.submission.partner else None


def _ledger_customers_of(session: Session, program: str, partners: Collection[str]) -> set[str | None]:
    keys = sorted(partners)
    out: set[str | None] = set()
    for i in range(0, len(keys), 500):
        stmt = (
            select(LedgerEntry.customer_key)
            .where(LedgerEntry.program == program, LedgerEntry.partner_key.in_(padded(keys[i : i + 500])))
            .distinct()
        )
        out.update(session.scalars(stmt))
    return out


def _sorted(findings: list[RuleFinding]) -> list[RuleFinding]:
    return sorted(set(findings), key=lambda f: (f.subject_key, f.code, f.detail))


def _write_findings(session: Session, run_id: str, program: str, findings: list[RuleFinding]) -> None:
    rows = [
        {"run_id": run_id, "program": program, "subject_key": f.subject_key, "code": f.code, "detail": f.detail}
        for f in findings
    ]
    if rows:
        session.execute(insert(Finding), rows)


def _customer_batches(
    billing_of: dict[str, str],
    qualified: list[Verdict],
    session: Session,
    program: str,
    size: int,
    scope: set[str | None] | None = None,
) -> Iterator[set[str | None]]:
    """Sets of customer keys, whole billing customers at a time, covering every key the ledger or a
    qualified submission names (or, given a `scope`, the keys in it): first those with a billing
    customer (gates and net revenue need its Stripe records), then the rest, which need none."""
    keys_of: dict[str, list[str]] = defaultdict(list)
    for key, billing in billing_of.items():
        if scope is None or key in scope:
            keys_of[billing].append(key)
    billing_ids = sorted(keys_of)
    for i in range(0, len(billing_ids), size):
        yield {k for b in billing_ids[i : i + size] for k in keys_of[b]}
    if scope is None:
        rest: set[str | None] = {v.submission.customer_key for v in qualified} | ledger_customer_keys(session, program)
    else:
        rest = set(scope)
    rest -= set(billing_of)
    ordered = sorted(rest, key=lambda k: (k is not None, k or ""))
    for i in range(0, len(ordered), size):
        yield set(ordered[i : i + size])


def compute(ctx: RunContext, program: Program, *, incremental: bool = False) -> ComputeResult:
    """Qualify every submission, append what changed to the ledger and move statuses forward.

    Full unless `incremental` (the scheduled sync asks for it); a full pass is what a
    recompute of the whole ledger runs.
    """
    with transaction(ctx.sessions) as session:
        return compute_in(session, ctx, program, incremental=incremental)
