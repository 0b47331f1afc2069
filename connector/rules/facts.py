"""The store as the rules see it at the as-of time: the records that had happened by then.

Only what had happened by `as_of` is visible: a record created later does not exist, an
invoice paid later is still open, a refund created later has not happened. That is what
makes a run reproducible for any as-of time, and a backdated run agree with the past.

Every such comparison with `as_of` that is still false is also noted as a *wake* time: the
earliest as-of time at which it turns (per billing customer, and globally for what
qualification reads). Incremental compute recomputes a customer once its wake has come,
so time passing changes exactly what a full recompute would change.

Pure: `connector.rules.reads.facts` fills these from the store.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar

from connector.rules import records
from connector.rules.program import Program

E = TypeVar("E", records.RefundRecord, records.DisputeRecord)  # a payment event that lands on an invoice


UNPAID_STATUSES = frozenset({"open", "uncollectible"})
"""Stripe invoice statuses of an invoice not paid in full: an `uncollectible` one is still owed (programs.md
"Changes after the fact": it keeps a customer past due, where a `void` one no longer does)."""


def visible(at: dt.datetime | None, as_of: dt.datetime) -> bool:
    """A record without a time cannot be placed, so it is taken as already there."""
    return at is None or at <= as_of


_TICK = dt.timedelta(microseconds=1)  # the resolution of stored times


def turns_at(at: dt.datetime | None, as_of: dt.datetime, *, strict: bool = False) -> dt.datetime | None:
    """The earliest as-of time, later than `as_of`, at which a test against `at` can turn; None if never.

    `at <= as_of` (visible, paid by) turns once as-of reaches `at`; a strict `at < as_of`
    (a due date that has passed) once it is past `at`, that is at `at` + 1 microsecond.
    """
    if at is None:
        return None
    at = at + _TICK if strict else at
    return at if at > as_of else None


def earliest(*times: dt.datetime | None) -> dt.datetime | None:
    return min((t for t in times if t is not None), default=None)


@dataclass
class Facts:
    """What the rules read as of a time: the global records (partners, submissions, catalogue and
    per-customer aggregates), and the Stripe records of one batch of billing customers."""

    as_of: dt.datetime
    partners: dict[str, records.PartnerRecord] = field(default_factory=dict)
    partners_by_ref: dict[str, records.PartnerRecord] = field(default_factory=dict)
    leads: Iterable[records.LeadRecord] = field(default_factory=list)  # read once (the store streams it)
    referrals: Iterable[records.ReferralRecord] = field(default_factory=list)  # read once (streamed too)
    deals: list[records.DealRecord] = field(default_factory=list)
    products: dict[str, records.ProductRecord] = field(default_factory=dict)
    prices: dict[str, records.PriceRecord] = field(default_factory=dict)
    # global: when each Stripe customer's first paid invoice with money in it was paid
    first_paid: dict[str, dt.datetime] = field(default_factory=dict)
    # global: refunds a visible, non-void credit note lists (on any invoice)
    subscriptions: dict[str, list[records.SubscriptionRecord]] = field(default_factory=lambda: defaultdict(list))
    items: dict[str, list[records.SubscriptionItemRecord]] = field(default_factory=lambda: defaultdict(list))
    invoices: dict[str, records.InvoiceRecord] = field(default_factory=dict)
    invoices_by_customer: dict[str, list[records.InvoiceRecord]] = field(default_factory=lambda: defaultdict(list))
    lines: dict[str, list[records.InvoiceLineRecord]] = field(default_factory=lambda: defaultdict(list))
    credit_notes: dict[str, list[records.CreditNoteRecord]] = field(default_factory=lambda: defaultdict(list))
    refunds: list[records.RefundRecord] = field(default_factory=list)
    disputes: list[records.DisputeRecord] = field(default_factory=list)
    invoice_of_payment_intent: dict[str, str] = field(default_factory=dict)
    invoice_of_charge: dict[str, str] = field(default_factory=dict)
    costs: dict[str, list[records.MarketingCostRecord]] = field(default_factory=lambda: defaultdict(list))
    credited_refund_ids: set[str] = field(default_factory=set)
    # per batch: the billing customers whose Stripe records are loaded
    customer_ids: frozenset[str] = frozenset()
    # when a comparison with as_of can next turn: per billing customer (batch), for qualification (global)
    wake: dict[str, dt.datetime] = field(default_factory=dict)
    global_wake: dt.datetime | None = None
    # global: refund id -> when a credit note listing it (not visible yet) becomes visible
    future_credits: dict[str, dt.datetime] = field(default_factory=dict)
    # global: per billing customer, its payments' intents and charges some refund or dispute names
    event_payments: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    earning_shares: dict[str, Fraction] = field(default_factory=dict)  # memo of netrevenue.earning_share
    # per batch: (partnership, customer key) -> the group its terms were recorded with at its first booking
    terms: dict[tuple[str, str | None], str | None] = field(default_factory=dict)
    _refunds_by_invoice: dict[str, list[records.RefundRecord]] | None = None
    _disputes_by_invoice: dict[str, list[records.DisputeRecord]] | None = None
    _adjusted: set[str] | None = None

    def note(self, customer_id: str | None, at: dt.datetime | None, *, strict: bool = False) -> None:
        """Remember that `customer_id`'s result may change when as-of reaches past `at` (see `turns_at`)."""
        when = turns_at(at, self.as_of, strict=strict)
        if when is not None and customer_id is not None:
            current = self.wake.get(customer_id)
            if current is None or when < current:
                self.wake[customer_id] = when

    def note_global(self, at: dt.datetime | None) -> None:
        """Remember that qualification may change when as-of reaches `at`."""
        self.global_wake = earliest(self.global_wake, turns_at(at, self.as_of))

    def is_paid(self, invoice: records.InvoiceRecord) -> bool:
        """Paid by the as-of time (an invoice paid later was still open then)."""
        return invoice.status == "paid" and invoice.paid_at is not None and invoice.paid_at <= self.as_of

    def paid_invoices(self, customer_id: str) -> list[records.InvoiceRecord]:
        """The customer's paid invoices in payment order (ties: id), as the ledger walks them.

        `is_paid` inlined, and sorted by a C key (a paid invoice has its `paid_at`): this runs for
        every customer of a full pass."""
        as_of = self.as_of
        paid = [
            i
            for i in self.invoices_by_customer.get(customer_id, [])
            if i.status == "paid" and i.paid_at is not None and i.paid_at <= as_of
        ]
        return sorted(paid, key=_PAYMENT_ORDER)

    def adjusted_invoices(self) -> set[str]:
        """The invoices some credit note, refund or dispute of the batch lands on; the others have no
        adjustments (`netrevenue.adjustments` need not look)."""
        if self._adjusted is None:
            self._adjusted = {k for k, v in self.credit_notes.items() if v}
            self._adjusted.update(self._refunds_index(), self._disputes_index())
        return self._adjusted

    def drop_adjustments(self, *, refunds: set[str], disputes: set[str], credit_notes: set[str]) -> None:
        """Leave these refunds, disputes and credit notes out of the batch (`connector.rules.invariants`
        quarantined them): nothing of theirs is booked."""
        self.refunds = [r for r in self.refunds if r.id not in refunds]
        self.disputes = [d for d in self.disputes if d.id not in disputes]
        for invoice_id, notes in list(self.credit_notes.items()):
            self.credit_notes[invoice_id] = [c for c in notes if c.id not in credit_notes]
        self._refunds_by_invoice = self._disputes_by_invoice = self._adjusted = None
        self.earning_shares.clear()

    def first_paid_at(self, customer_id: str) -> dt.datetime | None:
        """When the first paid invoice with money in it was paid: a $0 or void invoice is not a purchase.

        Read from the global aggregate, so it is known for customers outside the loaded batch.
        """
        return self.first_paid.get(customer_id)

    def first_subscription(self, customer_id: str) -> records.SubscriptionRecord | None:
        subs = self.subscriptions.get(customer_id, [])
        return min(subs, key=lambda s: (s.start_date or s.created or self.as_of, s.id), default=None)

    def refunds_of(self, invoice_id: str) -> list[records.RefundRecord]:
        return self._refunds_index().get(invoice_id, [])

    def disputes_of(self, invoice_id: str) -> list[records.DisputeRecord]:
        return self._disputes_index().get(invoice_id, [])

    def _refunds_index(self) -> dict[str, list[records.RefundRecord]]:
        if self._refunds_by_invoice is None:
            self._refunds_by_invoice = self._by_invoice(self.refunds)
        return self._refunds_by_invoice

    def _disputes_index(self) -> dict[str, list[records.DisputeRecord]]:
        if self._disputes_by_invoice is None:
            self._disputes_by_invoice = self._by_invoice(self.disputes)
        return self._disputes_by_invoice

    def _by_invoice(self, events: Sequence[E]) -> dict[str, list[E]]:
        """Refunds or disputes by the invoice whose payment they name (see `invoice_of`)."""
        out: dict[str, list[E]] = defaultdict(list)
        for event in events:
            if (inv := self.invoice_of(event.payment_intent, event.charge)) is not None:
                out[inv.id].append(event)
        return out

    def invoice_of(self, payment_intent: str | None, charge: str | None) -> records.InvoiceRecord | None:
        """Refunds and disputes name a payment, not an invoice: `invoice_payments` links them."""
        invoice_id = None
        if payment_intent:
            invoice_id = self.invoice_of_payment_intent.get(payment_intent)
        if invoice_id is None and charge:
            invoice_id = self.invoice_of_charge.get(charge)
        return self.invoices.get(invoice_id) if invoice_id else None


_PAYMENT_ORDER = operator.attrgetter("paid_at", "id")


@dataclass(frozen=True)
class Needs:
    """Which of a customer's Stripe records a program's rules read at all (the rest is not loaded:
    a net-revenue program that excludes nothing never looks at an invoice line)."""

    invoices: bool = True  # net revenue, the past-due gate, a deal payable after the first payment
    lines: bool = True  # the earning share of an invoice (excluded categories, earning price types)
    subscriptions: bool = True  # contract value; the contract-change cap
    adjustments: bool = True  # credit notes, refunds, disputes
    costs: bool = True  # marketing costs

    @classmethod
    def of(cls, program: Program) -> Needs:
        c = program.commission
        net = c.basis == "net_revenue"
        return cls(
            # (a deal reads the first payment from the global facts, but its time is noted per customer here)
            invoices=net or "customer_past_due" in program.gates.rules or program.payable.when == "after_first_payment",
            lines=net and bool(c.excluded_categories or c.earning_price_types),
            subscriptions=c.basis == "contract_value_12m" or (net and program.contract_change is not None),
            adjustments=net,
            costs=net and c.marketing_costs,
        )


EVERYTHING = Needs()
