"""Collect one run's data from the store into a `Report`.

The report reads the store as it is now: the run's own bookkeeping (stream stats,
quarantine, findings, notes) plus the program's current decisions and ledger, which
is what finance reconciles against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import TypeVar

from sqlalchemy import Engine, inspect, or_, select
from sqlalchemy.orm import Session

from connector.report.asof import declined_then, entries_as_of_run
from connector.report.audit import audit_rows
from connector.report.checks import compute_checks, compute_totals, monthly_commission
from connector.report.model import (
    EntryRow,
    FindingRow,
    PartnerRow,
    QuarantineRow,
    Report,
    RunInfo,
    StreamRow,
    SubmissionRow,
)
from connector.report.payouts import compute_payout_totals, payout_checks
from connector.report.rates import rate_check
from connector.report.readable import CustomerRow
from connector.rules.invariants import PARKED_REASONS
from connector.store.models import (
    BillingCustomer,
    Deal,
    Decision,
    Finding,
    LedgerEntry,
    Partner,
    Quarantine,
    Referral,
    Run,
    RunStreamStat,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_Row = TypeVar("_Row", RunInfo, SubmissionRow)


class RunNotFound(LookupError):
    """No run with that id (or no run at all, for "latest")."""


@contextmanager
def session_scope(session_or_engine: Session | Engine) -> Iterator[Session]:
    """The caller's session as is, or a new one on an engine that is closed afterwards."""
    if isinstance(session_or_engine, Session):
        yield session_or_engine
        return
    with Session(session_or_engine) as session:
        yield session


def _find_run(session: Session, run_id: str | None) -> Run:
    if run_id is None or run_id == "latest":
        run = session.scalars(select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()
        if run is None:
            raise RunNotFound("no run in the database yet")
        return run
    found = session.get(Run, run_id)
    if found is None:
        raise RunNotFound(f"no run with id {run_id}")
    return found


def _entry_row(e: LedgerEntry) -> EntryRow:
    return EntryRow(
        entry_key=e.entry_key,
        group_key=e.group_key,
        partnership_key=e.partnership_key,
        customer_key=e.customer_key,
        kind=e.kind,
        basis_minor=int(e.basis_minor),
        rate=e.rate,
        amount_minor=int(e.amount_minor),
        currency=e.currency.lower(),
        status=e.status,
        reason=e.reason,
        sources=tuple(e.sources or ()),
        event_at=e.event_at,
        payable_at=e.payable_at,
        push_state=e.push_state,
        platform_reward_key=e.platform_reward_key,
        pushed_at=e.pushed_at,
        created_run_id=e.created_run_id,
        pushed_run_id=e.pushed_run_id,
        payout_amount_minor=None if e.payout_amount_minor is None else int(e.payout_amount_minor),
        payout_currency=e.payout_currency,
        fx_rate=e.fx_rate,
        fx_date=e.fx_date,
        fx_source=e.fx_source,
        platform_status=e.platform_status,
        note=e.note,
    )


def entry_sort_key(e: EntryRow) -> tuple[str, str, dt.datetime, str]:
    return (e.partnership_key, e.customer_key or "", e.event_at or _EPOCH, e.entry_key)


def partner_row(p: Partner) -> PartnerRow:
    # Only columns that are safe to show; `raw` is never read here.
    person = " ".join(x for x in (p.first_name, p.last_name) if x)
    return PartnerRow(
        key=p.key,
        name=p.company_name or person or None,
        group_slug=p.group_slug,
        country=p.country,
        tax_form=p.tax_form,
        tax_id_last4=p.tax_id_last4,
        bank_kind=p.bank_kind,
        bank_last4=p.bank_last4,
    )


def _findings(session: Session, run_id: str) -> list[FindingRow]:
    """Findings of the run (a database from before the findings table simply has none)."""
    if not inspect(session.connection()).has_table(Finding.__tablename__):
        return []
    rows = session.scalars(select(Finding).where(Finding.run_id == run_id)).all()
    found = [FindingRow(program=r.program, subject_key=r.subject_key, code=r.code, detail=r.detail) for r in rows]
    return sorted(found, key=lambda f: (f.code, f.subject_key or "", f.detail or ""))


def _push_findings(session: Session, program: str) -> list[FindingRow]:
    """What finance must look at about the platform's side: rewards it refused (never retried until
    the entry or the program changes) and rewards it declined."""
    stmt = select(LedgerEntry.entry_key, LedgerEntry.push_state, LedgerEntry.push_error).where(
        LedgerEntry.program == program,
        or_(LedgerEntry.push_state == "refused", LedgerEntry.platform_status == "declined"),
    )
    return [
        FindingRow(program=program, subject_key=key, code="push_refused" if state == "refused" else "reward_declined",
                   detail=note if state == "refused" else "the platform declined this reward")
        for key, state, note in session.execute(stmt.order_by(LedgerEntry.entry_key))
    ]


def _stream_rows(session: Session, run_id: str) -> list[StreamRow]:
    stats = select(RunStreamStat).where(RunStreamStat.run_id == run_id).order_by(RunStreamStat.stream)
    return [
        StreamRow(s.stream, s.pulled, s.quarantined, s.pages, s.requests, s.retries) for s in session.scalars(stats)
    ]


def _copied(row_type: type[_Row], source: object) -> _Row:
    """A report row with each of its fields read from the same-named attribute of `source`."""
    return row_type(**{f.name: getattr(source, f.name) for f in fields(row_type)})


def _submissions(session: Session, program: str | None) -> list[SubmissionRow]:
    """The program's decisions (every program's for a run without one), oldest submission first."""
    decisions = select(Decision)
    if program is not None:
        decisions = decisions.where(Decision.program == program)
    rows = (_copied(SubmissionRow, d) for d in session.scalars(decisions))
    return sorted(rows, key=lambda s: (s.submitted_at is None, s.submitted_at or _EPOCH, s.submission_key))


def _entries(session: Session, program: str | None) -> list[EntryRow]:
    """The program's ledger as it is now (every program's for a run without one)."""
    ledger = select(LedgerEntry)
    if program is not None:
        ledger = ledger.where(LedgerEntry.program == program)
    return sorted((_entry_row(e) for e in session.scalars(ledger)), key=entry_sort_key)


def _quarantined(session: Session, run_id: str) -> list[QuarantineRow]:
    """What the run quarantined, and every record still parked (whichever run parked it: it waits
    for upstream, and its customer's entries are held meanwhile)."""
    parked = Quarantine.resolved_at.is_(None) & Quarantine.reason.in_(PARKED_REASONS)
    rows = select(Quarantine).where((Quarantine.run_id == run_id) | parked).order_by(Quarantine.source, Quarantine.id)
    return [
        QuarantineRow(source=q.source, id=q.source_id, error=q.error, created_at=q.created_at)
        for q in session.scalars(rows)
    ]


def _partners(session: Session, keys: set[str]) -> list[PartnerRow]:
    if not keys:
        return []
    partners = [partner_row(p) for p in session.scalars(select(Partner).where(Partner.key.in_(keys)))]
    return sorted(partners, key=lambda p: p.key)


_IN_CHUNK = 5000  # keys per IN (...): PostgreSQL takes at most 65535 bound parameters a statement


def _chunked(keys: set[str]) -> Iterator[list[str]]:
    ordered = sorted(keys)
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start:start + _IN_CHUNK]


def _customers(session: Session, keys: set[str]) -> list[CustomerRow]:
    """The name and Stripe id of each customer key shown: the PartnerStack customer (or, for a
    deal-based program, the deal), falling back to the Stripe customer's own name."""
    found: dict[str, CustomerRow] = {}
    for chunk in _chunked(keys):
        for key, name, stripe_id in session.execute(
            select(Deal.key, Deal.name, Deal.external_key).where(Deal.key.in_(chunk))
        ):
            found[key] = CustomerRow(key, name, stripe_id)
        for key, name, stripe_id in session.execute(
            select(Referral.key, Referral.name, Referral.provider_key).where(Referral.key.in_(chunk))
        ):
            found[key] = CustomerRow(key, name, stripe_id)
    unnamed = {c.stripe_id for c in found.values() if c.stripe_id and not c.name}
    names: dict[str, str | None] = {}
    for chunk in _chunked(unnamed):
        names.update(session.execute(
            select(BillingCustomer.id, BillingCustomer.name).where(BillingCustomer.id.in_(chunk))).all())
    return sorted(
        (CustomerRow(c.key, c.name or names.get(c.stripe_id or ""), c.stripe_id) for c in found.values()),
        key=lambda c: c.key,
    )


def _with_figures(report: Report) -> Report:
    """`report` with its totals, tie-out checks and monthly series computed from its entries."""
    report.totals = compute_totals(report.entries)
    report.payout_totals = compute_payout_totals(report.entries)
    report.checks = compute_checks(report.entries, report.totals) + payout_checks(report.entries, report.payout_totals)
    report.checks.append(rate_check(report.entries, report.findings))
    report.monthly = monthly_commission(report.entries)
    return report


def _load(session: Session, run: Run) -> Report:
    submissions = _submissions(session, run.program)
    entries = entries_as_of_run(session, run, _entries(session, run.program))  # a past run: as it stood then
    partner_keys = {e.partnership_key for e in entries} | {s.partnership_key for s in submissions if s.partnership_key}
    return _with_figures(
        Report(
            run=_copied(RunInfo, run),
            entries=entries,
            streams=_stream_rows(session, run.id),
            submissions=submissions,
            quarantined=_quarantined(session, run.id),
            findings=_findings(session, run.id) + declined_then(entries, _push_findings(session, run.program or "")),
            partners=_partners(session, partner_keys),
            customers=_customers(session, {e.customer_key for e in entries if e.customer_key}
                                 | {s.customer_key for s in submissions if s.customer_key}),
            notes=list(run.notes or []),
            payout_audit=audit_rows(session, run.id),
        )
    )


def build_report(session_or_engine: Session | Engine, run_id: str | None = None) -> Report:
    """The report of `run_id` (None or "latest": the most recently started run)."""
    with session_scope(session_or_engine) as session:
        return _load(session, _find_run(session, run_id))


def restrict_to_partner(report: Report, partner_key: str) -> Report:
    """The same report cut down to one partner, its totals and checks recomputed."""
    return _with_figures(
        Report(
            run=report.run,
            entries=[e for e in report.entries if e.partnership_key == partner_key],
            submissions=[s for s in report.submissions if s.partnership_key == partner_key],
            findings=[f for f in report.findings if f.subject_key and partner_key in f.subject_key],
            partners=[p for p in report.partners if p.key == partner_key],
            partner_key=partner_key,
            customers=report.customers,
            links=report.links,
        )
    )
