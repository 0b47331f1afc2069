"""One compute pass: store -> facts -> decisions -> desired entries -> ledger differences.

A pass is *full* (every customer) or *incremental* (only the customers whose result can
differ from what the last compute wrote). Both produce exactly the same ledger, decisions
and findings; incremental is the scheduled sync's default, and falls back to full whenever
it cannot prove what changed: no state yet, another program file or rules code, an as-of
time earlier than the last compute's, a change to products or prices, another reward currency or FX
rates file (its digest joins the program's: entries held `fx_rate_missing` are released by the pass).

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
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.ledger import requalify, terms
from connector.ledger.entries import LedgerResult
from connector.ledger.passverdicts import PassTables
from connector.ledger.payouts import load_payouts
from connector.ledger.reconcile import reconcile_entries
from connector.ledger.store import customers_of_partnerships, entries_of_customers
from connector.rules import reads
from connector.rules.facts import Facts, Needs, earliest
from connector.rules.gates import GatePolicy
from connector.rules.invariants import enforce
from connector.rules.kinds import RuleFinding, desired_entries
from connector.rules.payout import PayoutRates
from connector.rules.program import Program
from connector.rules.qualification import Submission, Verdict, judge, unlinked_candidates
from connector.rules.ratekeys import RATE_KEY_UNMATCHED
from connector.store.db import transaction
from connector.store.models import ComputeState, Finding, LedgerEntry
from connector.store.planner import settle_statistics

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


def _decision_rows(program: Program, verdicts: Iterable[Verdict], run_id: str) -> Iterator[dict[str, object]]:
    """One row per verdict, made as `write_decisions` reads them (it keeps only the changed ones).

    Keyed by the table's column names (`upsert_rows` writes table rows): `partner_key` is the
    column of `Decision.partnership_key`."""
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
    payouts = load_payouts(ctx.settings)
    clock = reads.advance_clock(session)
    tick = 1 if clock is None else clock
    digest = reads.program_digest(program, payouts.digest())
    state = session.get(ComputeState, program.name)
    reason = _full_reason(state, ctx.as_of, digest) if incremental else "full pass requested"
    if reason is None and clock is None:
        reason = "the change clock was reset"
    changes: reads.Changes | None = None
    due: set[str | None] = set()
    if reason is None:
        assert state is not None
        changes = reads.changes_since(session, state.mark)
        due = reads.due_customers(session, program.name, ctx.as_of)
        if changes.catalogue:
            reason = "products or prices changed"
    if reason is None and state is not None and changes is not None and _nothing_to_do(state, ctx.as_of, changes, due):
        result, recheck_at = _unchanged(session, ctx, program, state), state.recheck_at
    else:
        previous = state.run_id if reason is None and state is not None else None
        with _heap_frozen():
            result, recheck_at = _pass(
                session, ctx, program, changes if reason is None else None, due, previous, payouts
            )
        result.mode, result.full_reason = ("incremental", None) if reason is None else ("full", reason)
    if result.mode == "full" and incremental:
        log.info("compute ran full", extra={"program": program.name, "reason": reason})
    reads.adopt_unstamped(session, tick)
    reads.save_state(
        session, program.name, mark=tick, as_of=ctx.as_of, digest=digest, recheck_at=recheck_at, run_id=ctx.run_id
    )
    reads.prune_departures(session)
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


def _nothing_to_do(state: ComputeState, as_of: dt.datetime, changes: reads.Changes, due: set[str | None]) -> bool:
    return not changes.any and not due and (state.recheck_at is None or state.recheck_at > as_of)


def _unchanged(session: Session, ctx: RunContext, program: Program, state: ComputeState) -> ComputeResult:
    """Nothing changed and no time has come: the decisions stand, the findings carry over to this run."""
    decisions, rejected = reads.decision_counts(session, program.name)
    previous = reads.previous_findings(session, program.name, state.run_id)
    findings = _sorted([f for f in previous if f.code != requalify.REQUALIFIED])  # news of that run only
    _write_findings(session, ctx.run_id, program.name, findings)
    return ComputeResult(
        program=program.name, decisions=decisions, rejected_reasons=rejected, findings=findings, mode="incremental"
    )


@dataclass
class _Qualified:
    """The global half of a pass: the global facts, and every submission's verdict in the pass's tables."""

    facts: Facts  # the global facts (no customer's Stripe records)
    tables: PassTables  # the verdicts, the customer -> billing customer map, the batches
    decided: reads.DecisionChanges  # the decisions this pass changed (an incremental pass's only)
    decisions: Counter[str] = field(default_factory=Counter)  # by outcome
    rejected_reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class _Booked:
    """What booking the batches left: the ledger's differences, the findings, the recheck times."""

    ledger: LedgerResult = field(default_factory=LedgerResult)
    findings: list[RuleFinding] = field(default_factory=list)
    wake: dict[str | None, dt.datetime] = field(default_factory=dict)  # the current batch's
    customers: int = 0  # customer keys booked
    takebacks: dict[requalify.Pair, requalify.TakeBack] = field(default_factory=dict)  # of rejected submissions


def _pass(
    session: Session,
    ctx: RunContext,
    program: Program,
    changes: reads.Changes | None,
    due: set[str | None],
    previous_run: str | None,
    payouts: PayoutRates,
) -> tuple[ComputeResult, dt.datetime | None]:
    """Qualify everything, then compute and reconcile every customer (`changes` None) or the affected ones.

    Qualification is global (duplicates span customers, tiers span a partner's deals) and
    reads only the small tables; the Stripe records and the ledger are then read, computed
    and reconciled one batch of billing customers at a time, so memory is bounded by the
    batch. Every group of the ledger belongs to one customer, so batching changes nothing.
    What a pass keeps per submission (candidates, verdicts, who holds an identifier first,
    each customer's billing customer and batch) is in temporary tables (`PassTables`), not in
    memory: the pass's memory does not grow with the number of submissions.
    """
    with PassTables.open(session) as tables:
        q = _qualify_all(session, ctx, program, tables, incremental=changes is not None)
        scope = None if changes is None else _affected(session, program, q, changes, due)
        booked = _book(session, ctx, program, q, scope, payouts)
        findings = booked.findings
        if scope is not None and program.commission.basis != "deal_value" and previous_run is not None:
            findings.extend(_findings_kept(session, program, q, previous_run))
    findings = _sorted(findings)
    _write_findings(session, ctx.run_id, program.name, findings)
    ledger = booked.ledger
    result = ComputeResult(
        program=program.name,
        decisions=dict(q.decisions),
        rejected_reasons=dict(q.rejected_reasons),
        entries_appended=ledger.appended,
        appended_minor=dict(ledger.appended_minor),
        statuses_changed=ledger.statuses_changed,
        reversed=ledger.reversed,
        findings=findings,
        customers_recomputed=booked.customers,
    )
    return result, q.facts.global_wake


def _qualify_all(
    session: Session, ctx: RunContext, program: Program, tables: PassTables, *, incremental: bool
) -> _Qualified:
    """Read the global facts, qualify every submission and write the decisions that changed.

    The candidates go to the pass's tables as they are read, and come back in submission order a page
    at a time, each with the earliest earlier submission sharing one of its identifiers; each page's
    verdicts go back to the tables and to `write_decisions` as they are judged. Which decisions
    changed only an incremental pass reads (its scope, the findings it keeps); a full pass does not
    collect them (on a first pass every decision is new)."""
    facts = reads.load_global(session, ctx.as_of, per_customer=False)
    tables.keep_customer_facts(facts)
    tables.add_candidates(unlinked_candidates(facts, program))
    facts.leads, facts.referrals = [], []  # the tables keep what the rules need of them
    tables.link(program.submissions.sources)
    gc.freeze()  # the global facts live through the pass (see `_heap_frozen`)
    q = _Qualified(facts, tables, reads.DecisionChanges(frozenset(), frozenset(), frozenset()))

    def judged() -> Iterator[Verdict]:
        for page in tables.in_order(facts):
            verdicts = [(pos, judge(candidate, holder, facts, program)) for pos, candidate, holder in page]
            tables.add_verdicts(verdicts)
            for _, v in verdicts:
                q.decisions[v.decision] += 1
                if v.decision == "rejected" and v.reason:
                    q.rejected_reasons[v.reason] += 1
                yield v

    rows = _decision_rows(program, judged(), ctx.run_id)
    decided = reads.write_decisions(session, program.name, rows, track=incremental, kept=tables.judged_keys())
    tables.finish_verdicts()
    if incremental:
        q.decided = decided
    return q


def _book(
    session: Session, ctx: RunContext, program: Program, q: _Qualified, scope: set[str | None] | None,
    payouts: PayoutRates,
) -> _Booked:  # fmt: skip
    """Compute and reconcile the customers in `scope` (all without), one batch of billing customers at a time.

    Each batch's recheck times are written as it ends (a full pass first drops the program's)."""
    booked = _Booked()
    global_entries = None
    if program.commission.basis == "deal_value":  # needs only global facts; tiers span all deals
        qualified = list(q.tables.verdicts(q.facts, qualified=True))
        billing = sorted({v.submission.billing_customer_id for v in qualified if v.submission.billing_customer_id})
        q.facts.first_paid, q.facts.event_payments = q.tables.customer_facts(billing)
        kinds = desired_entries(program, q.facts, qualified)
        del qualified
        global_entries, booked.findings = kinds.entries, list(kinds.findings)
    batches = q.tables.cut_batches(program.name, BATCH_SIZE, scope)
    total = q.tables.customers()
    if scope is None:
        reads.replace_rechecks(session, program.name, None, {})
    needs = Needs.of(program)
    partner_gates: dict[str, str | None] = {}  # judged once per pass, shared by the batches
    holds = reads.open_holds(session)  # what the pull's unresolved quarantine rows hold
    invariant_rows = reads.open_invariant_customers(session) if needs.adjustments else set()
    held_partnerships = holds.partnerships(q.facts)
    now = dt.datetime.now(dt.UTC)
    for n in range(batches):
        b = q.tables.batch(n, q.facts)
        keys, batch = b.keys, b.qualified
        billing_ids = sorted(
            set(b.billing_of.values())
            | {v.submission.billing_customer_id for v in batch if v.submission.billing_customer_id}
        )
        q.facts.first_paid, q.facts.event_payments = q.tables.customer_facts(billing_ids)  # the batch's
        batch_facts = reads.load_customers(session, q.facts, billing_ids, needs)
        held_billing = holds.billing_ids
        if needs.adjustments:  # money invariants at the door: a bad adjustment is quarantined, never booked
            violations = enforce(batch_facts)
            if violations or not invariant_rows.isdisjoint(billing_ids):  # else nothing to write or resolve
                reads.keep_violations(session, ctx.run_id, billing_ids, violations)
            if violations:
                held_billing = held_billing | {v.customer_id for v in violations if v.customer_id}
        if program.commission.terms_at_first_booking:
            batch_facts.terms = terms.recorded(session, program.name, keys)
        if global_entries is None:
            kinds = desired_entries(program, batch_facts, batch)
            entries = kinds.entries
            booked.findings.extend(kinds.findings)
        else:
            entries = [e for e in global_entries if e.customer_key in keys]
        if program.commission.terms_at_first_booking:
            terms.record(session, program.name, batch_facts.terms, entries, q.facts.partners, ctx.run_id, ctx.as_of)
        ledger = entries_of_customers(session, program.name, keys)
        takebacks = _take_backs(b.rejected, ledger.totals, batch)
        booked.takebacks.update(takebacks)
        reconcile_entries(
            session, program.name, ledger, entries,
            GatePolicy(program, batch_facts, b.billing_of, partner_gates, held_billing, held_partnerships),
            run_id=ctx.run_id, now=now, result=booked.ledger, payouts=payouts, as_of=ctx.as_of, takebacks=takebacks,
        )  # fmt: skip
        _note_batch_wake(booked, keys, b.billing_of, batch_facts)
        reads.replace_rechecks(session, program.name, () if scope is None else keys, booked.wake)
        booked.wake = {}
        del batch_facts, entries, b, batch
        booked.customers += len(keys)
        if ctx.progress is not None:  # the terminal's bar, the JSON log's progress lines
            ctx.progress("compute", booked.customers, total)
    booked.findings.extend(booked.takebacks[pair].finding() for pair in sorted(booked.ledger.requalified))
    return booked


def _take_backs(
    rejected: list[Verdict], totals: dict[str, int], qualified: list[Verdict]
) -> dict[requalify.Pair, requalify.TakeBack]:
    """Why a batch's booked groups of submissions rejected since are taken back (`connector.ledger.requalify`).

    `rejected` and `qualified` are the batch's: a pair names its customer, and every submission of a
    customer is in that customer's batch, so the batch's own pairs are all a take-back is checked
    against (a set of every qualified pair, held for the pass, was some 100 bytes a customer)."""
    if not rejected:
        return {}
    pairs = {(_partner(v) or "", v.submission.customer_key) for v in qualified}
    return requalify.take_backs(rejected, pairs, requalify.booked_pairs(totals))


def _note_batch_wake(booked: _Booked, keys: set[str | None], billing_of: dict[str, str], batch_facts: Facts) -> None:
    """Each customer's recheck time: its earliest scheduled entry falling due, or a record's time coming."""
    for key in keys:
        billing = billing_of.get(key) if key is not None else None
        at = earliest(booked.ledger.wake.pop(key, None), batch_facts.wake.get(billing) if billing else None)
        if at is not None:
            booked.wake[key] = at


def _findings_kept(session: Session, program: Program, q: _Qualified, previous_run: str) -> list[RuleFinding]:
    """The other customers' findings stand as the last compute wrote them."""
    redone = q.tables.batched_submissions() | q.decided.keys
    kept = reads.previous_findings(session, program.name, previous_run)
    # news of one run, not standing state: a requalification; a rate key without a group (the run re-checks it)
    news = (requalify.REQUALIFIED, RATE_KEY_UNMATCHED)
    return [f for f in kept if f.subject_key not in redone and f.code not in news]


def _affected(
    session: Session, program: Program, q: _Qualified, changes: reads.Changes, due: set[str | None]
) -> set[str | None]:
    """The customer keys whose entries can differ from what the ledger holds; a superset is safe."""
    scope: set[str | None] = set(due) | q.decided.customers
    scope.update(v.submission.customer_key for v in q.tables.verdicts(q.facts) if _touched(v.submission, changes))
    if changes.partners:  # gates and rates are the partner's: every customer it has entries for
        scope |= customers_of_partnerships(session, program.name, changes.partners)
    if program.commission.basis == "deal_value":  # a partner's tier counts all its deals: take them all
        scope |= _customers_of_same_partners(q, scope)
    billing = set(changes.billing_ids)
    billing.update(b for k, b in q.tables.billing_pairs() if k in scope)
    # whole billing customers, as a full pass batches them
    scope.update(k for k, b in q.tables.billing_pairs() if b in billing)
    return scope


def _touched(s: Submission, changes: reads.Changes) -> bool:
    """A record the submission is made of changed since the last compute."""
    return (
        (s.partner is not None and s.partner.key in changes.partners)
        or s.key in changes.leads
        or s.key in changes.referrals
        or s.key in changes.deals
        or (s.referral_key is not None and s.referral_key in changes.referrals)
        or (s.billing_customer_id is not None and s.billing_customer_id in changes.billing_ids)
    )


def _customers_of_same_partners(q: _Qualified, scope: set[str | None]) -> set[str | None]:
    """Every customer of a partner that has a customer in `scope` or a changed decision."""
    partners = set(q.decided.partners)
    partners.update(_partner(v) for v in q.tables.verdicts(q.facts) if v.submission.partner and _in(v, scope))
    verdicts = q.tables.verdicts(q.facts)
    return {v.submission.customer_key for v in verdicts if v.submission.partner and _partner(v) in partners}


def _in(v: Verdict, scope: set[str | None]) -> bool:
    return v.submission.customer_key in scope


def _partner(v: Verdict) -> str | None:
    return v.submission.partner.key if v.submission.partner else None


def _sorted(findings: list[RuleFinding]) -> list[RuleFinding]:
    return sorted(set(findings), key=lambda f: (f.subject_key, f.code, f.detail))


def _write_findings(session: Session, run_id: str, program: str, findings: list[RuleFinding]) -> None:
    rows = [
        {"run_id": run_id, "program": program, "subject_key": f.subject_key, "code": f.code, "detail": f.detail}
        for f in findings
    ]
    if rows:
        session.execute(insert(Finding), rows)


def compute(ctx: RunContext, program: Program, *, incremental: bool = False) -> ComputeResult:
    """Qualify every submission, append what changed to the ledger and move statuses forward.

    Full unless `incremental` (the scheduled sync asks for it); a full pass is what a
    recompute of the whole ledger runs.
    """
    with transaction(ctx.sessions) as session:
        result = compute_in(session, ctx, program, incremental=incremental)
        settle_statistics(session, LedgerEntry.__table__)  # the statuses it moved (`connector.store.planner`)
        return result
