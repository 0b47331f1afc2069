"""`connector explain`: the chain behind one entry or one customer, read from the store.

Why a command of its own: a partner asks "why did I get −160.00?" and finance must answer from the
books, not from a debugger. The chain is everything the connector knew and did: the submissions and
their decisions, the billing customer's invoices and what adjusted them (credit notes, refunds,
disputes, finance's costs), each entry with its arithmetic (its `note`, written when it was
appended) and its status history, and the reward the platform holds for it. Read only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.money import format_money, iso_utc
from connector.rules.notes import num
from connector.store.models import (
    CreditNote,
    Deal,
    Decision,
    Dispute,
    EntryStatusMove,
    Finding,
    Invoice,
    InvoicePayment,
    LedgerEntry,
    MarketingCost,
    Partner,
    PlatformReward,
    Referral,
    Refund,
    Run,
    Subscription,
)


class NothingToExplain(LookupError):
    """No entry (or customer) with that key in the ledger or the decisions."""


@dataclass(frozen=True)
class Source:
    """One source event or record: an invoice, an adjustment, a cost, a subscription, a deal."""

    kind: str
    id: str
    at: str | None
    amount_minor: int | None
    currency: str | None
    detail: str


@dataclass(frozen=True)
class Move:
    status: str
    reason: str | None
    platform_status: str | None
    cause: str
    at: str | None
    run_id: str | None


@dataclass
class Explained:
    entry_key: str
    program: str
    partner_key: str
    customer_key: str | None
    kind: str
    basis_minor: int
    rate: str
    amount_minor: int
    currency: str
    status: str
    reason: str | None
    sources: list[str]
    event_at: str | None
    note: str | None
    history: list[Move] = field(default_factory=list)
    payout: str | None = None
    reward: dict[str, Any] | None = None  # the platform's reward, as pushed and as mirrored


@dataclass
class Explanation:
    subject: str
    submissions: list[dict[str, Any]] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    billing_customers: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    entries: list[Explained] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # the latest run's findings on its submissions or customer
    customer_key: str | None = None


def _day(value: dt.datetime | None) -> str | None:
    return iso_utc(value)


def explain_entry(session: Session, key: str) -> Explanation:
    """The chain behind one entry: its whole reward group (the entry, what it corrects, what corrects it)."""
    entry = session.get(LedgerEntry, key)
    group = entry.group_key if entry is not None else key  # a group key names the whole group
    entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.group_key == group)
                                   .order_by(LedgerEntry.seq)))  # fmt: skip
    if not entries:
        raise NothingToExplain(f"no ledger entry {key}")
    first = entries[0]
    sources = {s for e in entries for s in (e.sources or [])}
    return _explain(session, f"entry {key}", first.customer_key, entries, sources)


def explain_customer(session: Session, key: str) -> Explanation:
    """The chain behind one customer (PartnerStack customer key, deal key, or Stripe customer id)."""
    keys = {key}
    keys.update(r.key for r in session.scalars(select(Referral).where(Referral.provider_key == key)))
    ledger = select(LedgerEntry).where(LedgerEntry.customer_key.in_(sorted(keys)))
    entries = list(session.scalars(ledger.order_by(LedgerEntry.event_at, LedgerEntry.group_key, LedgerEntry.seq)))
    named = or_(Decision.customer_key.in_(sorted(keys)), Decision.submission_key.in_(sorted(keys)))
    decided = session.scalars(select(Decision.customer_key).where(named)).first()
    if not entries and decided is None:
        raise NothingToExplain(f"no customer {key} in the ledger or the decisions")
    customer = entries[0].customer_key if entries else decided or key
    sources = {s for e in entries for s in (e.sources or [])}
    return _explain(session, f"customer {key}", customer, entries, sources, whole_customer=True)


def _explain(
    session: Session, subject: str, customer: str | None, entries: list[LedgerEntry], sources: set[str],
    whole_customer: bool = False,
) -> Explanation:  # fmt: skip
    out = Explanation(subject)
    decisions = _decisions(session, customer)
    out.submissions = [
        {"submission_key": d.submission_key, "type": d.submission_type, "partner_key": d.partnership_key,
         "customer_key": d.customer_key, "program": d.program, "decision": d.decision, "reason": d.reason,
         "submitted_at": _day(d.submitted_at)}
        for d in decisions
    ]  # fmt: skip
    partner_keys = sorted({d.partnership_key for d in decisions if d.partnership_key}
                          | {e.partnership_key for e in entries})  # fmt: skip
    for p in session.scalars(select(Partner).where(Partner.key.in_(partner_keys))):
        name = p.company_name or " ".join(x for x in (p.first_name, p.last_name) if x) or ""
        out.partners.append(f"{p.key} {name} (group {p.group_slug or 'none'})".replace("  ", " "))
    billing = _billing_customers(session, customer)
    out.billing_customers = sorted(billing)
    out.sources = _sources(session, billing, sources, whole_customer)
    out.entries = [_entry(session, e) for e in entries]
    out.customer_key = customer
    subjects = {d.submission_key for d in decisions} | ({customer} if customer else set())
    latest = session.scalars(select(Run.id).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()
    if latest is not None and subjects:
        about = select(Finding).where(Finding.run_id == latest, Finding.subject_key.in_(sorted(subjects)))
        rows = session.scalars(about.order_by(Finding.code, Finding.subject_key))
        out.findings = [f"{f.code}: {f.subject_key}: {f.detail}" for f in rows]
    return out


def _decisions(session: Session, customer: str | None) -> list[Decision]:
    if customer is None:
        return []
    stmt = select(Decision).where(or_(Decision.customer_key == customer, Decision.submission_key == customer))
    decided = list(session.scalars(stmt))
    return sorted(decided, key=lambda d: (d.submitted_at is None, d.submitted_at or dt.datetime.min.replace(
        tzinfo=dt.UTC), d.submission_key))  # fmt: skip


def _billing_customers(session: Session, customer: str | None) -> set[str]:
    """The Stripe customer ids behind a PartnerStack customer (or a deal's external key)."""
    if customer is None:
        return set()
    found = {r.provider_key for r in session.scalars(select(Referral).where(Referral.key == customer))
             if r.provider_key}  # fmt: skip
    deal = session.get(Deal, customer)
    if deal is not None and deal.external_key:
        found.add(deal.external_key)
    return found


def _sources(session: Session, billing: set[str], named: set[str], whole: bool) -> list[Source]:
    """The invoices of the billing customers (or only those named, for one entry) and what adjusted them."""
    out: list[Source] = []
    invoices = list(session.scalars(select(Invoice).where(Invoice.customer_id.in_(sorted(billing)))
                                    .order_by(Invoice.created, Invoice.id)))  # fmt: skip
    if not whole:
        invoices = [i for i in invoices if i.id in named]
    ids = [i.id for i in invoices]
    for i in invoices:
        out.append(Source("invoice", i.id, _day(i.paid_at or i.created), i.amount_paid, i.currency,
                          f"status {i.status}, amount paid {num(i.amount_paid)}, tax {num(i.tax)}, "
                          f"remaining {num(i.amount_remaining)}, due {_day(i.due_date) or '—'}"))  # fmt: skip
    for cn in session.scalars(select(CreditNote).where(CreditNote.invoice_id.in_(ids)).order_by(CreditNote.id)):
        if whole or cn.id in named:
            out.append(Source("credit_note", cn.id, _day(cn.created), -cn.total, cn.currency,
                              f"on {cn.invoice_id}, {cn.type or 'type unknown'}, status {cn.status}, "
                              f"excluding tax {num(cn.total_excluding_tax)}"))  # fmt: skip
    payments = list(session.scalars(select(InvoicePayment).where(InvoicePayment.invoice_id.in_(ids))))
    intents = sorted({p.payment_intent for p in payments if p.payment_intent})
    charges = sorted({p.charge for p in payments if p.charge})
    on_invoice: dict[str, str | None] = {**{p.payment_intent: p.invoice_id for p in payments if p.payment_intent},
                                         **{p.charge: p.invoice_id for p in payments if p.charge}}  # fmt: skip
    for kind, rows in (("refund", _paid_back(session, Refund, intents, charges, named)),
                       ("dispute", _paid_back(session, Dispute, intents, charges, named))):
        for r in rows:
            if whole or r.id in named:
                invoice = on_invoice.get(r.payment_intent or "") or on_invoice.get(r.charge or "") or "?"
                out.append(Source(kind, r.id, _day(r.created), -r.amount, r.currency,
                                  f"on {invoice}, status {r.status}"))  # fmt: skip
    costs = select(MarketingCost).where(or_(MarketingCost.customer_id.in_(sorted(billing)),
                                            MarketingCost.id.in_(sorted(named))))  # fmt: skip
    for c in session.scalars(costs.order_by(MarketingCost.date, MarketingCost.id)):
        if whole or c.id in named:
            out.append(Source("marketing_cost", c.id, _day(c.date), -c.amount, c.currency,
                              f"finance's cost file: {c.note or 'no note'}"))  # fmt: skip
    for s in session.scalars(select(Subscription).where(Subscription.id.in_(sorted(named)))):
        out.append(Source("subscription", s.id, _day(s.created), None, None, f"customer {s.customer_id}"))
    for d in session.scalars(select(Deal).where(Deal.key.in_(sorted(named)))):
        out.append(Source("deal", d.key, _day(d.close_date), d.amount, d.currency,
                          f"stage {d.stage}, created {_day(d.created_at)}"))  # fmt: skip
    return out


def _paid_back(
    session: Session, model: type[Refund] | type[Dispute], intents: list[str], charges: list[str], named: set[str]
) -> list[Refund] | list[Dispute]:
    """The refunds (or disputes) of these payments, and any the entries name."""
    where = or_(model.payment_intent.in_(intents), model.charge.in_(charges), model.id.in_(sorted(named)))
    return list(session.scalars(select(model).where(where).order_by(model.id)))  # type: ignore[return-value]


def _entry(session: Session, e: LedgerEntry) -> Explained:
    moves = session.scalars(select(EntryStatusMove).where(EntryStatusMove.entry_key == e.entry_key)
                            .order_by(EntryStatusMove.id))  # fmt: skip
    out = Explained(
        entry_key=e.entry_key, program=e.program, partner_key=e.partnership_key, customer_key=e.customer_key,
        kind=e.kind, basis_minor=int(e.basis_minor), rate=e.rate, amount_minor=int(e.amount_minor),
        currency=e.currency.lower(), status=e.status, reason=e.reason, sources=list(e.sources or []),
        event_at=_day(e.event_at), note=e.note,
        history=[Move(m.status, m.reason, m.platform_status, m.cause, _day(m.at), m.run_id) for m in moves],
    )
    if e.payout_amount_minor is not None and e.payout_currency:
        paid = format_money(int(e.payout_amount_minor), e.payout_currency)
        out.payout = paid if e.payout_currency == e.currency.lower() else f"{paid} at {e.fx_rate} ({e.fx_source})"
    if e.platform_reward_key or e.push_state or e.push_error:
        reward: dict[str, Any] = {"key": e.platform_reward_key, "push_state": e.push_state,
                                  "pushed_at": _day(e.pushed_at), "platform_status": e.platform_status,
                                  "refused": e.push_error}  # fmt: skip
        mirrored = session.get(PlatformReward, e.platform_reward_key) if e.platform_reward_key else None
        if mirrored is not None:
            reward.update(amount=mirrored.amount, currency=mirrored.currency, reward_status=mirrored.reward_status,
                          payment_status=mirrored.payment_status, description=mirrored.description)
        out.reward = reward
    return out


# ---------------------------------------------------------------- renderers


def explanation_dict(x: Explanation) -> dict[str, Any]:
    return asdict(x)


def render_explanation_json(x: Explanation) -> str:
    return json.dumps(explanation_dict(x), indent=2, ensure_ascii=False) + "\n"


def _amount(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return ""
    return f"{num(amount)} ({format_money(amount, currency)})"


def _lines(x: Explanation) -> Iterable[str]:
    yield f"Explain {x.subject}"
    yield ""
    yield "Submissions and decision"
    for s in x.submissions or [{}]:
        if not s:
            yield "  (none recorded)"
            continue
        why = f" ({s['reason']})" if s["reason"] else ""
        yield (f"  {s['type']} {s['submission_key']} by {s['partner_key']} for {s['customer_key'] or '—'}, "
               f"submitted {s['submitted_at'] or '—'}: {s['decision']}{why} [{s['program']}]")  # fmt: skip
    for p in x.partners:
        yield f"  partner {p}"
    if x.billing_customers:
        yield f"  billing customer {', '.join(x.billing_customers)}"
    yield ""
    yield "Invoices and adjustments"
    if not x.sources:
        yield "  (none in the store)"
    for src in x.sources:
        amount = _amount(src.amount_minor, src.currency)
        yield f"  {src.kind} {src.id} {src.at or '—'} {amount}".rstrip() + f": {src.detail}"
    if x.findings:
        yield ""
        yield "Findings (latest run)"
        yield from (f"  {f}" for f in x.findings)
    yield ""
    yield "Entries"
    if x.subject.startswith("entry") and x.customer_key:
        yield f"  (the customer's other entries and the floor's order: connector explain --customer {x.customer_key})"
    if not x.entries:
        yield "  (none booked)"
    for e in x.entries:
        why = f" ({e.reason})" if e.reason else ""
        yield f"  {e.entry_key}"
        yield (f"    {e.kind} {_amount(e.amount_minor, e.currency)} on basis {num(e.basis_minor)} × {e.rate}, "
               f"event {e.event_at or '—'}, status {e.status}{why}")  # fmt: skip
        yield f"    arithmetic: {e.note or '(no note recorded)'}"
        if e.payout:
            yield f"    payout: {e.payout}"
        for m in e.history:
            extra = f" ({m.reason})" if m.reason else ""
            platform = f", platform {m.platform_status}" if m.platform_status else ""
            yield f"    {m.at or '—'} {m.cause}: {m.status}{extra}{platform}"
        if e.reward:
            r = e.reward
            said = f", platform status {r['platform_status']}" if r.get("platform_status") else ""
            yield (f"    platform reward: {r.get('key') or 'none'} ({r.get('push_state') or 'not sent'}"
                   f"{', pushed ' + r['pushed_at'] if r.get('pushed_at') else ''}{said})")  # fmt: skip
            if r.get("refused"):
                yield f"    refused: {r['refused']}"
            if r.get("reward_status") or r.get("payment_status"):
                yield f"    on the platform: reward {r.get('reward_status')}, payment {r.get('payment_status')}"
        else:
            yield "    platform reward: none (not pushed)"


def render_explanation_text(x: Explanation) -> str:
    return "\n".join(_lines(x)) + "\n"
