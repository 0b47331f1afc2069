"""The store as the rules see it at the as-of time: a global read, then one read per customer batch.

`load_global` reads what qualification needs across all customers (partners, leads,
PartnerStack customers, deals, products, prices, and per-customer aggregates computed
while streaming); `load_customers` then reads the Stripe records of one batch of billing
customers, so memory stays bounded by the batch, not by the store.

Only what had happened by `as_of` is visible: a record created later does not exist, an
invoice paid later is still open, a refund created later has not happened. That is what
makes a run reproducible for any as-of time, and a backdated run agree with the past.

Every such comparison with `as_of` that is still false is also noted as a *wake* time: the
earliest as-of time at which it turns (per billing customer, and globally for what
qualification reads). Incremental compute recomputes a customer once its wake has come,
so time passing changes exactly what a full recompute would change.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import defaultdict, namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Label, and_, case, func, or_, select, union
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Session

from connector.rules.program import Program
from connector.rules.reads.sql import IN_LIST, in_lists, padded, read_as
from connector.store.models import (
    Base,
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

E = TypeVar("E", Refund, Dispute)  # a payment event that lands on an invoice


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
    as_of: dt.datetime
    partners: dict[str, Partner] = field(default_factory=dict)
    partners_by_ref: dict[str, Partner] = field(default_factory=dict)
    leads: list[Lead] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)
    # global: when each Stripe customer's first paid invoice with money in it was paid
    first_paid: dict[str, dt.datetime] = field(default_factory=dict)
    # global: refunds a visible, non-void credit note lists (on any invoice)
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
    # per batch: the billing customers whose Stripe records are loaded
    customer_ids: frozenset[str] = frozenset()
    # when a comparison with as_of can next turn: per billing customer (batch), for qualification (global)
    wake: dict[str, dt.datetime] = field(default_factory=dict)
    global_wake: dt.datetime | None = None
    # global: refund id -> when a credit note listing it (not visible yet) becomes visible
    future_credits: dict[str, dt.datetime] = field(default_factory=dict)
    # global: per billing customer, its payments' intents and charges some refund or dispute names
    event_payments: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    earning_shares: dict[str, Fraction] = field(default_factory=dict)  # memo of netrevenue.earning_share
    _refunds_by_invoice: dict[str, list[Refund]] | None = None
    _disputes_by_invoice: dict[str, list[Dispute]] | None = None
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

    def is_paid(self, invoice: Invoice) -> bool:
        """Paid by the as-of time (an invoice paid later was still open then)."""
        return invoice.status == "paid" and invoice.paid_at is not None and invoice.paid_at <= self.as_of

    def paid_invoices(self, customer_id: str) -> list[Invoice]:
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

    def first_paid_at(self, customer_id: str) -> dt.datetime | None:
        """When the first paid invoice with money in it was paid: a $0 or void invoice is not a purchase.

        Read from the global aggregate, so it is known for customers outside the loaded batch.
        """
        return self.first_paid.get(customer_id)

    def first_subscription(self, customer_id: str) -> Subscription | None:
        subs = self.subscriptions.get(customer_id, [])
        return min(subs, key=lambda s: (s.start_date or s.created or self.as_of, s.id), default=None)

    def refunds_of(self, invoice_id: str) -> list[Refund]:
        return self._refunds_index().get(invoice_id, [])

    def disputes_of(self, invoice_id: str) -> list[Dispute]:
        return self._disputes_index().get(invoice_id, [])

    def _refunds_index(self) -> dict[str, list[Refund]]:
        if self._refunds_by_invoice is None:
            self._refunds_by_invoice = self._by_invoice(self.refunds)
        return self._refunds_by_invoice

    def _disputes_index(self) -> dict[str, list[Dispute]]:
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

    def invoice_of(self, payment_intent: str | None, charge: str | None) -> Invoice | None:
        """Refunds and disputes name a payment, not an invoice: `invoice_payments` links them."""
        invoice_id = None
        if payment_intent:
            invoice_id = self.invoice_of_payment_intent.get(payment_intent)
        if invoice_id is None and charge:
            invoice_id = self.invoice_of_charge.get(charge)
        return self.invoices.get(invoice_id) if invoice_id else None


_PAYMENT_ORDER = operator.attrgetter("paid_at", "id")


def load_global(session: Session, as_of: dt.datetime) -> Facts:
    """What spans customers: partners, submissions, catalogue, first purchases, credited refunds.

    The redacted `raw` payloads are left in the database: rules read canonical columns only.
    """
    f = Facts(as_of=as_of)
    for p in _rows(session, Partner):
        f.partners[p.key] = p
        if p.partner_key:
            f.partners_by_ref.setdefault(p.partner_key, p)
    f.leads = _visible_rows(f, _rows(session, Lead))
    f.referrals = _visible_rows(f, _rows(session, Referral))
    f.deals = _visible_rows(f, _rows(session, Deal))
    for deal in f.deals:
        f.note_global(deal.close_date)  # a won deal counts once signed (qualification.deal_won)
    f.products = {x.id: x for x in _rows(session, Product)}
    f.prices = {x.id: x for x in _rows(session, Price)}
    f.first_paid = _first_paid(session, f)
    f.credited_refund_ids = _credited_refund_ids(session, f)
    f.event_payments = _event_payments(session)
    return f


def _event_payments(session: Session) -> dict[str, tuple[set[str], set[str]]]:
    """Per billing customer, the payment intents and charges of its invoices' payments that some refund
    or dispute names (read through the payments' intent and charge indexes).

    A few percent of payments have one; knowing them lets each batch ask for the refunds and
    disputes of those payments only, without reading every payment of the batch (one read per
    pass instead of one per batch, and a tenth of the rows).
    """
    out: dict[str, tuple[set[str], set[str]]] = {}
    for n, column in enumerate((InvoicePayment.payment_intent, InvoicePayment.charge)):
        name = column.key
        named = union(*(select(getattr(m, name)).where(getattr(m, name).is_not(None)) for m in (Refund, Dispute)))
        stmt = (
            select(column, Invoice.customer_id)
            .join(Invoice, Invoice.id == InvoicePayment.invoice_id)
            .where(column.in_(named), Invoice.customer_id.is_not(None))
        )
        for value, customer_id in session.connection().execute(stmt).all():
            if value is not None and customer_id is not None:  # (as the statement asks: for the types)
                out.setdefault(customer_id, (set(), set()))[n].add(value)
    return out


R = TypeVar("R", Lead, Referral, Deal)


def _visible_rows(f: Facts, rows: list[R]) -> list[R]:
    """The submissions created by as-of; the others wake qualification when they appear."""
    out = []
    for x in rows:
        if visible(x.created_at, f.as_of):
            out.append(x)
        else:
            f.note_global(x.created_at)
    return out


def _first_paid(session: Session, f: Facts) -> dict[str, dt.datetime]:
    """Per customer, the earliest paid_at of a visible invoice paid by `as_of` with amount_paid > 0.

    Qualification (existing customer) and deal timing need it for every customer, the
    invoices themselves only per batch: so it is aggregated in the database, one row per
    customer. An invoice created or paid after as-of wakes qualification (it may make a
    later submission an existing customer): the same pass finds the earliest such time.
    """
    as_of = f.as_of
    paid_by = and_(Invoice.paid_at <= as_of, or_(Invoice.created.is_(None), Invoice.created <= as_of))
    stmt = (
        select(
            Invoice.customer_id,
            func.min(case((paid_by, Invoice.paid_at))),
            func.min(case((Invoice.paid_at > as_of, Invoice.paid_at))),
            func.min(case((Invoice.created > as_of, Invoice.created))),
        )
        .where(
            Invoice.status == "paid",
            Invoice.amount_paid > 0,
            Invoice.customer_id.is_not(None),
            Invoice.paid_at.is_not(None),
        )
        .group_by(Invoice.customer_id)
    )
    first: dict[str, dt.datetime] = {}
    for customer_id, paid_at, paid_later, created_later in session.connection().execute(stmt):
        if paid_at is not None:
            first[customer_id] = paid_at
        f.note_global(paid_later)
        f.note_global(created_later)
    return first


def _credited_refund_ids(session: Session, f: Facts) -> set[str]:
    """Refunds listed by a visible, non-void credit note: the credit note counts them, not the refund.

    A credit note created after as-of will stop its refunds counting: `f.future_credits` keeps
    when, so the refunds' customers (wherever they are) wake then.
    """
    stmt = select(CreditNote.refund_ids, CreditNote.status, CreditNote.created).where(
        CreditNote.invoice_id.is_not(None)
    )
    out: set[str] = set()
    for refund_ids, status, created in session.connection().execute(stmt):
        if status == "void" or not refund_ids:
            continue
        if visible(created, f.as_of):
            out.update(refund_ids)
        elif created is not None:
            for refund_id in refund_ids:
                f.future_credits[refund_id] = earliest(f.future_credits.get(refund_id), created) or created
    return out


M = TypeVar("M", bound=Base)


def _rows(
    session: Session,
    model: type[M],
    where: ColumnElement[bool] | None = None,
    *,
    columns: tuple[str, ...] | None = None,
    via_invoice: Mapped[Any] | None = None,
) -> list[M]:
    """`model`'s rows matching `where` (all without), by primary key, as named tuples.

    No ORM identity map or change tracking (several times lighter and faster to build than
    instances), and executed on the connection, past the ORM's result layer: the rules only
    read these records. Each Core row becomes a named tuple of its model (`_record`): a Row
    answers an attribute through a fallback lookup some twenty times slower than a named tuple's,
    and the rules read a dozen attributes of every invoice. Typed as the model because a record
    answers the same attribute names; the redacted `raw` payload and the change stamp stay in the
    database. `columns` narrows the record to those attributes (what an index covers);
    `via_invoice` joins the invoices on that column, so `where` may name the invoice's customer.
    """
    selected, id_column = _columns(model, columns)
    stmt = select(*selected)
    if via_invoice is not None:
        stmt = stmt.join(Invoice, Invoice.id == via_invoice)
    stmt = stmt.order_by(id_column)
    if where is not None:
        stmt = stmt.where(where)
    record = _record(model, columns)
    return cast(list[M], [_as_record(record, row) for row in session.connection().execute(stmt).all()])


_as_record = tuple.__new__  # a named tuple from a row's values, without the generated __new__'s Python frame


@functools.cache
def _record(model: type[Base], only: tuple[str, ...] | None = None) -> type[tuple[Any, ...]]:
    """The named tuple type of `_columns(model, only)`'s rows."""
    selected, _ = _columns(model, only)
    return namedtuple(f"{model.__name__}Record", [column.name for column in selected])


@functools.cache
def _columns(
    model: type[Base], only: tuple[str, ...] | None = None
) -> tuple[tuple[Label[Any], ...], ColumnElement[Any]]:
    """The model's columns (or `only` these) labelled with their attribute names, and its primary key;
    built once so every batch's statement shares them (and the compiled-statement cache keeps one entry
    per table)."""
    mapper = sa_inspect(model)
    columns = tuple(
        read_as(attr.columns[0], attr.key)
        for attr in mapper.column_attrs
        if attr.key not in ("raw", "changed_seq") and (only is None or attr.key in only)
    )
    return columns, mapper.primary_key[0]


INVOICE_COLUMNS = (
    "id", "customer_id", "status", "amount_paid", "paid_at", "created", "currency", "due_date", "amount_remaining",
    "tax",
)  # fmt: skip
"""The invoice attributes the rules read: all of them are in the index `ix_st_invoices_compute`
(migration 0004), so a batch's invoices are read from the index alone, never from the table rows
that carry the raw payloads (some 3 kB each: a page per invoice). An invoice in `Facts` has
only these attributes."""


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


def load_customers(
    session: Session, base: Facts, customer_ids: Sequence[str], needs: Needs = EVERYTHING
) -> Facts:
    """`base`'s global facts plus the Stripe records of `customer_ids`, keeping what had happened by `as_of`.

    What is not there yet, or has not happened yet, is noted per customer (`Facts.wake`);
    records the program does not read (`needs`) are neither loaded nor noted.
    """
    as_of = base.as_of
    f = Facts(
        as_of=as_of,
        partners=base.partners,
        partners_by_ref=base.partners_by_ref,
        leads=base.leads,
        referrals=base.referrals,
        deals=base.deals,
        products=base.products,
        prices=base.prices,
        first_paid=base.first_paid,
        credited_refund_ids=base.credited_refund_ids,
        future_credits=base.future_credits,
        event_payments=base.event_payments,
        customer_ids=frozenset(customer_ids),
    )
    ids = sorted(customer_ids)
    sub_ids = []
    for sub in _rows_in(session, Subscription, Subscription.customer_id, ids if needs.subscriptions else []):
        sub_ids.append(sub.id)
        start = sub.start_date or sub.created
        if sub.customer_id and visible(start, as_of):
            f.subscriptions[sub.customer_id].append(sub)
        f.note(sub.customer_id, start)
    for item in _rows_in(session, SubscriptionItem, SubscriptionItem.subscription_id, sub_ids):
        f.items[item.subscription_id].append(item)
    customer_of: dict[str, str | None] = {}  # every invoice of the batch, visible or not
    invoiced = ids if needs.invoices else []  # the batch's invoices are read (and joined) by their customers
    for inv in _rows_in(session, Invoice, Invoice.customer_id, invoiced, columns=INVOICE_COLUMNS):
        customer_of[inv.id] = inv.customer_id
        if visible(inv.created, as_of):
            f.invoices[inv.id] = inv
            if inv.customer_id:
                f.invoices_by_customer[inv.customer_id].append(inv)
        _note_invoice(f, inv)
    lined = invoiced if needs.lines else []
    for line in _rows_in(session, InvoiceLine, InvoiceLine.invoice_id, lined, via_invoice=True):
        f.lines[line.invoice_id].append(line)
    if not needs.adjustments:
        invoiced = []
    for cn in _rows_in(session, CreditNote, CreditNote.invoice_id, invoiced, via_invoice=True):
        if cn.invoice_id and cn.status != "void":
            if visible(cn.created, as_of):
                f.credit_notes[cn.invoice_id].append(cn)
            f.note(customer_of.get(cn.invoice_id), cn.created)
    _load_payment_events(session, f, invoiced, customer_of)
    for cost in _rows_in(session, MarketingCost, MarketingCost.customer_id, ids if needs.costs else []):
        if visible(cost.date, as_of):
            f.costs[cost.customer_id].append(cost)
        f.note(cost.customer_id, cost.date)
    return f


def _note_invoice(f: Facts, inv: Invoice) -> None:
    """An invoice's times that as-of has not reached: created (visible), paid (paid, first purchase), and
    the due date of one still open then (a past-due gate closes once as-of is *past* it).

    Inlined comparisons (the common case notes nothing): this runs for every invoice of a full pass.
    """
    as_of, status, paid_at = f.as_of, inv.status, inv.paid_at
    if inv.created is not None and inv.created > as_of:
        f.note(inv.customer_id, inv.created)
    if status == "paid" and paid_at is not None and paid_at > as_of:
        f.note(inv.customer_id, paid_at)
    unpaid = status == "open" or (status == "paid" and (paid_at is None or paid_at > as_of))  # by as-of
    if unpaid and inv.due_date is not None and inv.due_date >= as_of:
        f.note(inv.customer_id, inv.due_date, strict=True)


def _rows_in(
    session: Session,
    model: type[M],
    column: Mapped[Any],
    values: Sequence[Any],
    *,
    columns: tuple[str, ...] | None = None,
    via_invoice: bool = False,
) -> list[M]:
    """`model`'s rows whose `column` is one of `values`, by primary key, as plain rows (see `_rows`).

    Values are passed as lists, not subqueries: the batch's keys are already in hand, and a
    subquery was evaluated again by every statement that named it. With `via_invoice`, `column`
    names an invoice and `values` are billing customers: the rows of those customers' invoices,
    joined in the database (a batch's customer ids are a tenth of its invoice ids to send).
    """
    where_column: Any = Invoice.customer_id if via_invoice else column
    link = column if via_invoice else None
    out: list[M] = []
    for chunk in in_lists(values):
        out.extend(_rows(session, model, where_column.in_(chunk), columns=columns, via_invoice=link))
    if len(values) <= IN_LIST:
        return out  # one statement: already in primary-key order
    _, id_column = _columns(model, columns)
    return sorted(out, key=lambda row: getattr(row, str(id_column.key)))


def _load_payment_events(
    session: Session, f: Facts, customer_ids: list[str], customer_of: dict[str, str | None]
) -> None:
    """Refunds and disputes that can land on the batch's invoices, and the payment links that place them.

    A refund names a payment intent or charge; the first non-canceled invoice payment (by id)
    carrying it names the invoice, wherever that invoice's customer is. So candidates are the
    refunds/disputes sharing a payment intent or charge with the batch's invoice payments, and
    the links are read for every payment carrying one of the candidates' intents or charges,
    which reproduces the global first-wins mapping exactly for them. Candidates not visible
    yet are placed the same way, to wake the customer they will land on.

    The batch's payments are those of its customers' invoices (`customer_ids`), and of their
    intents and charges only those some refund or dispute names (`Facts.event_payments`) are
    asked for: the others cannot find a candidate.
    """
    as_of = f.as_of
    batch_pis: set[str] = set()
    batch_charges: set[str] = set()
    for customer_id in customer_ids:
        if (named := f.event_payments.get(customer_id)) is not None:
            batch_pis.update(named[0])
            batch_charges.update(named[1])
    refunds = _paid_through(session, Refund, sorted(batch_pis), sorted(batch_charges))
    disputes = _paid_through(session, Dispute, sorted(batch_pis), sorted(batch_charges))
    f.refunds = [r for r in refunds if r.status == "succeeded" and visible(r.created, as_of)]
    f.disputes = [d for d in disputes if visible(d.created, as_of)]
    events: list[Refund | Dispute] = [*refunds, *disputes]
    pis = sorted({e.payment_intent for e in events if e.payment_intent})
    f.invoice_of_payment_intent = _first_invoice_by(session, InvoicePayment.payment_intent, pis)
    # a charge only places an event whose payment intent does not (rare): read just those
    charges = sorted(
        {e.charge for e in events if e.charge and (e.payment_intent or "") not in f.invoice_of_payment_intent}
    )
    f.invoice_of_charge = _first_invoice_by(session, InvoicePayment.charge, charges)
    for e in events:
        invoice_id = f.invoice_of_payment_intent.get(e.payment_intent or "") or f.invoice_of_charge.get(e.charge or "")
        customer = customer_of.get(invoice_id) if invoice_id else None
        f.note(customer, e.created)
        f.note(customer, f.future_credits.get(e.id))  # a credit note listing the refund may appear later


def _paid_through(session: Session, model: type[E], pis: list[str], charges: list[str]) -> list[E]:
    """The refunds/disputes naming one of the payment intents or charges (each list read through its index)."""
    found = {r.id: r for r in _rows_in(session, model, model.payment_intent, pis)}
    found.update((r.id, r) for r in _rows_in(session, model, model.charge, charges))
    return [found[k] for k in sorted(found)]


def _first_invoice_by(session: Session, column: Mapped[str | None], values: Sequence[str]) -> dict[str, str]:
    """value -> invoice of the first (by id) non-canceled invoice payment carrying it, as a global read gives."""
    out: dict[str, str] = {}
    if not values:
        return out
    stmt = (
        select(column, InvoicePayment.invoice_id, InvoicePayment.status)
        .where(column.in_(padded(values)))
        .order_by(InvoicePayment.id)
    )
    for value, invoice_id, status in session.connection().execute(stmt):
        if value and invoice_id and status != "canceled":
            out.setdefault(value, invoice_id)
    return out
