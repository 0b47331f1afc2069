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
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.ledger import requalify, terms
from connector.ledger.entries import LedgerResult
from connector.ledger.payouts import load_payouts
from connector.ledger.reconcile import reconcile_entries
from connector.ledger.store import customers_of_partnerships, entries_of_customers, ledger_customer_keys
from connector.rules import reads
from connector.rules.facts import Facts, Needs, earliest
from connector.rules.gates import GatePolicy
from connector.rules.invariants import enforce
from connector.rules.kinds import RuleFinding, desired_entries
from connector.rules.payout import PayoutRates
from connector.rules.program import Program
from connector.rules.qualification import Submission, Verdict, build_submissions, qualify
from connector.rules.ratekeys import RATE_KEY_UNMATCHED
from connector.store.db import transaction
from connector.store.models import ComputeState, Finding

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def _handed_over(items: list[T]) -> Iterator[T]:
    """`items` in order, each dropped from the list as it is handed over.

    `qualify` keeps a slim `Submission` of each candidate it judges; handing the candidates over
    this way frees each one (its domain, normalised name and the rest) once judged, instead of
    holding every candidate and every verdict at once at the end of qualification."""
    items.reverse()
    while items:
        yield items.pop()


def _decision_rows(program: Program, verdicts: list[Verdict], run_id: str) -> Iterator[dict[str, object]]:
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
    """The global half of a pass: every submission's verdict, and what the batches share."""

    facts: Facts  # the global facts (no customer's Stripe records)
    verdicts: list[Verdict]
    decided: reads.DecisionChanges  # the decisions this pass changed
    billing_of: dict[str, str]  # customer key -> billing customer, of every submission that has both
    qualified: list[Verdict] = field(init=False)

    def __post_init__(self) -> None:
        self.qualified = [v for v in self.verdicts if v.decision == "qualified"]


@dataclass
class _Booked:
    """What booking the batches left: the ledger's differences, the findings, the recheck times."""

    ledger: LedgerResult = field(default_factory=LedgerResult)
    findings: list[RuleFinding] = field(default_factory=list)
    wake: dict[str | None, dt.datetime] = field(default_factory=dict)
    batch_of: dict[str | None, int] = field(default_factory=dict)  # customer key -> its batch
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
    """
    q = _qualify_all(session, ctx, program, incremental=changes is not None)
    scope = None if changes is None else _affected(session, program, q, changes, due)
    booked = _book(session, ctx, program, q, scope, payouts)
    reads.replace_rechecks(session, program.name, None if scope is None else booked.batch_of.keys(), booked.wake)
    findings = booked.findings
    if scope is not None and program.commission.basis != "deal_value" and previous_run is not None:
        findings.extend(_findings_kept(session, program, q, booked, previous_run))
    findings = _sorted(findings)
    _write_findings(session, ctx.run_id, program.name, findings)
    verdicts, ledger = q.verdicts, booked.ledger
    result = ComputeResult(
        program=program.name,
        decisions=dict(Counter(v.decision for v in verdicts)),
        rejected_reasons=dict(Counter(v.reason for v in verdicts if v.decision == "rejected" and v.reason)),
        entries_appended=ledger.appended,
        appended_minor=dict(ledger.appended_minor),
        statuses_changed=ledger.statuses_changed,
        reversed=ledger.reversed,
        findings=findings,
        customers_recomputed=len(booked.batch_of),
    )
    return result, q.facts.global_wake


def _qualify_all(session: Session, ctx: RunContext, program: Program, *, incremental: bool) -> _Qualified:
    """Read the global facts, qualify every submission and write the decisions that changed.

    Which decisions changed only an incremental pass reads (its scope, the findings it keeps); a full
    pass drops them before booking: on a first pass every decision is new, and their keys, customers
    and partners were some 100 bytes a submission held through the booking for nothing."""
    facts = reads.load_global(session, ctx.as_of)
    candidates = build_submissions(facts, program)
    facts.leads, facts.referrals = [], []  # the candidates keep what the rules need of them
    verdicts = qualify(_handed_over(candidates), facts, program)
    gc.freeze()  # the global facts and the verdicts live through the pass (see `_heap_frozen`)
    decided = reads.write_decisions(session, program.name, _decision_rows(program, verdicts, ctx.run_id))
    if not incremental:
        decided = reads.DecisionChanges(frozenset(), frozenset(), frozenset())
    billing_of = {
        v.submission.customer_key: v.submission.billing_customer_id
        for v in verdicts
        if v.submission.customer_key and v.submission.billing_customer_id
    }
    return _Qualified(facts, verdicts, decided, billing_of)


def _book(
    session: Session, ctx: RunContext, program: Program, q: _Qualified, scope: set[str | None] | None,
    payouts: PayoutRates,
) -> _Booked:  # fmt: skip
    """Compute and reconcile the customers in `scope` (all without), one batch of billing customers at a time."""
    booked = _Booked()
    global_entries = None
    if program.commission.basis == "deal_value":  # needs only global facts; tiers span all deals
        kinds = desired_entries(program, q.facts, q.qualified)
        global_entries, booked.findings = kinds.entries, list(kinds.findings)
    batches = list(_customer_batches(q.billing_of, q.qualified, session, program.name, BATCH_SIZE, scope))
    booked.batch_of = {key: n for n, keys in enumerate(batches) for key in keys}
    subs_of, rejected_of = _verdicts_by_batch(q.verdicts, booked.batch_of)
    needs = Needs.of(program)
    partner_gates: dict[str, str | None] = {}  # judged once per pass, shared by the batches
    holds = reads.open_holds(session)  # what the pull's unresolved quarantine rows hold
    invariant_rows = reads.open_invariant_customers(session) if needs.adjustments else set()
    held_partnerships = holds.partnerships(q.facts)
    now = dt.datetime.now(dt.UTC)
    customers, total = 0, sum(len(keys) for keys in batches)
    for n, keys in enumerate(batches):
        batch = subs_of.pop(n, [])
        billing_ids = sorted(
            {q.billing_of[k] for k in keys if k in q.billing_of}
            | {v.submission.billing_customer_id for v in batch if v.submission.billing_customer_id}
        )
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
            entries = [e for e in global_entries if booked.batch_of.get(e.customer_key) == n]
        if program.commission.terms_at_first_booking:
            terms.record(session, program.name, batch_facts.terms, entries, q.facts.partners, ctx.run_id, ctx.as_of)
        ledger = entries_of_customers(session, program.name, keys)
        takebacks = _take_backs(rejected_of.pop(n, []), ledger.totals, batch)
        booked.takebacks.update(takebacks)
        reconcile_entries(
            session, program.name, ledger, entries,
            GatePolicy(program, batch_facts, q.billing_of, partner_gates, held_billing, held_partnerships),
            run_id=ctx.run_id, now=now, result=booked.ledger, payouts=payouts, as_of=ctx.as_of, takebacks=takebacks,
        )  # fmt: skip
        _note_batch_wake(booked, keys, q.billing_of, batch_facts)
        del batch_facts, entries
        customers += len(keys)
        if ctx.progress is not None:  # the terminal's bar, the JSON log's progress lines
            ctx.progress("compute", customers, total)
    booked.findings.extend(booked.takebacks[pair].finding() for pair in sorted(booked.ledger.requalified))
    return booked


def _verdicts_by_batch(
    verdicts: list[Verdict], batch_of: dict[str | None, int]
) -> tuple[dict[int, list[Verdict]], dict[int, list[Verdict]]]:
    """Per batch, in submission order: its qualified submissions, and its rejected ones that have a partner
    (what a take-back can be for). One list per batch, not per customer (a list per customer with a
    rejected submission, held for the pass, was some 100 bytes each)."""
    qualified: dict[int, list[Verdict]] = defaultdict(list)
    rejected: dict[int, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        if v.decision == "open" or (n := batch_of.get(v.submission.customer_key)) is None:
            continue
        if v.decision == "qualified":
            qualified[n].append(v)
        elif v.submission.partner is not None:
            rejected[n].append(v)
    return qualified, rejected


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


def _findings_kept(
    session: Session, program: Program, q: _Qualified, booked: _Booked, previous_run: str
) -> list[RuleFinding]:
    """The other customers' findings stand as the last compute wrote them."""
    redone = {v.submission.key for v in q.verdicts if v.submission.customer_key in booked.batch_of}
    redone |= q.decided.keys
    kept = reads.previous_findings(session, program.name, previous_run)
    # news of one run, not standing state: a requalification; a rate key without a group (the run re-checks it)
    news = (requalify.REQUALIFIED, RATE_KEY_UNMATCHED)
    return [f for f in kept if f.subject_key not in redone and f.code not in news]


def _affected(
    session: Session, program: Program, q: _Qualified, changes: reads.Changes, due: set[str | None]
) -> set[str | None]:
    """The customer keys whose entries can differ from what the ledger holds; a superset is safe."""
    scope: set[str | None] = set(due) | q.decided.customers
    scope.update(v.submission.customer_key for v in q.verdicts if _touched(v.submission, changes))
    if changes.partners:  # gates and rates are the partner's: every customer it has entries for
        scope |= customers_of_partnerships(session, program.name, changes.partners)
    if program.commission.basis == "deal_value":  # a partner's tier counts all its deals: take them all
        scope |= _customers_of_same_partners(q, scope)
    billing = changes.billing_ids | {q.billing_of[k] for k in scope if k is not None and k in q.billing_of}
    scope.update(k for k, b in q.billing_of.items() if b in billing)  # whole billing customers, as a full pass batches
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
    partners.update(v.submission.partner.key for v in q.verdicts if v.submission.partner and _in(v, scope))
    return {v.submission.customer_key for v in q.verdicts if v.submission.partner and _partner(v) in partners}


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
