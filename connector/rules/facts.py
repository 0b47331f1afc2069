"""The store as the rules see it at the as-of time: one read, then pure in-memory rules.

Only what had happened by `as_of` is visible: a record created later does not exist, an
invoice paid later is still open, a refund created later has not happened. That is what
makes a run reproducible for any as-of time, and a backdated run agree with the past.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from connector.models import (
    BillingCustomer,
    CreditNote,
    Deal,
    Dispute,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    Lead,
    MarketingCost,
    Partner,
    Price,
    Product,
    Referral,
    Refund,
    Subscription,
    SubscriptionItem,
)


def visible(at: dt.datetime | None, as_of: dt.datetime) -> bool:
    """A record without a time cannot be placed, so it is taken as already there."""
    return at is None or at <= as_of


@dataclass
class Facts:
    as_of: dt.datetime
    partners: dict[str, Partner] = field(default_factory=dict)
    partners_by_ref: dict[str, Partner] = field(default_factory=dict)
    leads: list[Lead] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    billing_customers: dict[str, BillingCustomer] = field(default_factory=dict)
    subscriptions: dict[str, list[Subscription]] = field(default_factory=lambda: defaultdict(list))
    items: dict[str, list[SubscriptionItem]] = field(default_factory=lambda: defaultdict(list))
    invoices: dict[str, Invoice] = field(default_factory=dict)
    invoices_by_customer: dict[str, list[Invoice]] = field(default_factory=lambda: defaultdict(list))
    lines: dict[str, list[InvoiceLine]] = field(default_factory=lambda: defaultdict(list))
    credit_notes: dict[str, list[CreditNote]] = field(default_factory=lambda: defaultdict(list))
    refunds: list[Refund] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    invoice_of_payment_intent: dict[str, str] = field(default_factory=dict)
    invoice_of_charge: dict[str, str] = field(default_factory=dict)
    costs: dict[str, list[MarketingCost]] = field(default_factory=lambda: defaultdict(list))
    credited_refund_ids: set[str] = field(default_factory=set)
    _refunds_by_invoice: dict[str, list[Refund]] | None = None
    _disputes_by_invoice: dict[str, list[Dispute]] | None = None

    def is_paid(self, invoice: Invoice) -> bool:
        """Paid by the as-of time (an invoice paid later was still open then)."""
        return invoice.status == "paid" and invoice.paid_at is not None and invoice.paid_at <= self.as_of

    def paid_invoices(self, customer_id: str) -> list[Invoice]:
        """The customer's paid invoices in payment order (ties: id), as the ledger walks them."""
        paid = [i for i in self.invoices_by_customer.get(customer_id, []) if self.is_paid(i)]
        return sorted(paid, key=lambda i: (i.paid_at or self.as_of, i.id))

    def first_purchase(self, customer_id: str) -> Invoice | None:
        """The first paid invoice with money in it: a $0 or void invoice is not a purchase."""
        return next((i for i in self.paid_invoices(customer_id) if i.amount_paid > 0), None)

    def first_subscription(self, customer_id: str) -> Subscription | None:
        subs = self.subscriptions.get(customer_id, [])
        return min(subs, key=lambda s: (s.start_date or s.created or self.as_of, s.id), default=None)

    def refunds_of(self, invoice_id: str) -> list[Refund]:
        if self._refunds_by_invoice is None:
            self._refunds_by_invoice = defaultdict(list)
            for r in self.refunds:
                if (inv := self.invoice_of(r.payment_intent, r.charge)) is not None:
                    self._refunds_by_invoice[inv.id].append(r)
        return self._refunds_by_invoice.get(invoice_id, [])

    def disputes_of(self, invoice_id: str) -> list[Dispute]:
        if self._disputes_by_invoice is None:
            self._disputes_by_invoice = defaultdict(list)
            for d in self.disputes:
                if (inv := self.invoice_of(d.payment_intent, d.charge)) is not None:
                    self._disputes_by_invoice[inv.id].append(d)
        return self._disputes_by_invoice.get(invoice_id, [])

    def invoice_of(self, payment_intent: str | None, charge: str | None) -> Invoice | None:
        """Refunds and disputes name a payment, not an invoice: `invoice_payments` links them."""
        invoice_id = None
        if payment_intent:
            invoice_id = self.invoice_of_payment_intent.get(payment_intent)
        if invoice_id is None and charge:
            invoice_id = self.invoice_of_charge.get(charge)
        return self.invoices.get(invoice_id) if invoice_id else None


def load_facts(session: Session, as_of: dt.datetime) -> Facts:
    """Read every table the rules use, keeping only what had happened by `as_of`.

    The redacted `raw` payloads are left in the database: rules read canonical columns only.
    """
    f = Facts(as_of=as_of)
    for p in session.scalars(select(Partner).options(defer(Partner.raw)).order_by(Partner.key)):
        f.partners[p.key] = p
        if p.partner_key:
            f.partners_by_ref.setdefault(p.partner_key, p)
    f.leads = [
        x
        for x in session.scalars(select(Lead).options(defer(Lead.raw)).order_by(Lead.key))
        if visible(x.created_at, as_of)
    ]
    f.referrals = [
        x
        for x in session.scalars(select(Referral).options(defer(Referral.raw)).order_by(Referral.key))
        if visible(x.created_at, as_of)
    ]
    f.deals = [
        x
        for x in session.scalars(select(Deal).options(defer(Deal.raw)).order_by(Deal.key))
        if visible(x.created_at, as_of)
    ]
    f.products = {x.id: x for x in session.scalars(select(Product).options(defer(Product.raw)))}
    f.prices = {x.id: x for x in session.scalars(select(Price).options(defer(Price.raw)))}
    f.billing_customers = {
        x.id: x for x in session.scalars(select(BillingCustomer).options(defer(BillingCustomer.raw)))
    }
    for sub in session.scalars(select(Subscription).options(defer(Subscription.raw)).order_by(Subscription.id)):
        if sub.customer_id and visible(sub.start_date or sub.created, as_of):
            f.subscriptions[sub.customer_id].append(sub)
    for item in session.scalars(select(SubscriptionItem).order_by(SubscriptionItem.id)):
        f.items[item.subscription_id].append(item)
    for inv in session.scalars(select(Invoice).options(defer(Invoice.raw)).order_by(Invoice.id)):
        if visible(inv.created, as_of):
            f.invoices[inv.id] = inv
            if inv.customer_id:
                f.invoices_by_customer[inv.customer_id].append(inv)
    for line in session.scalars(select(InvoiceLine).order_by(InvoiceLine.id)):
        f.lines[line.invoice_id].append(line)
    for cn in session.scalars(select(CreditNote).options(defer(CreditNote.raw)).order_by(CreditNote.id)):
        if cn.invoice_id and cn.status != "void" and visible(cn.created, as_of):
            f.credit_notes[cn.invoice_id].append(cn)
            f.credited_refund_ids.update(cn.refund_ids or [])
    f.refunds = [
        r
        for r in session.scalars(select(Refund).options(defer(Refund.raw)).order_by(Refund.id))
        if r.status == "succeeded" and visible(r.created, as_of)
    ]
    f.disputes = [
        d
        for d in session.scalars(select(Dispute).options(defer(Dispute.raw)).order_by(Dispute.id))
        if visible(d.created, as_of)
    ]
    for pay in session.scalars(select(InvoicePayment).order_by(InvoicePayment.id)):
        if pay.invoice_id and pay.status != "canceled":
            if pay.payment_intent:
                f.invoice_of_payment_intent.setdefault(pay.payment_intent, pay.invoice_id)
            if pay.charge:
                f.invoice_of_charge.setdefault(pay.charge, pay.invoice_id)
    for cost in session.scalars(select(MarketingCost).order_by(MarketingCost.id)):
        if visible(cost.date, as_of):
            f.costs[cost.customer_id].append(cost)
    return f
