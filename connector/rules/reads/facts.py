"""Reading the facts (`connector.rules.facts`) from the store: a global read, then one read per customer batch.

`load_global` reads what qualification needs across all customers (partners, leads,
PartnerStack customers, deals, products, prices, and per-customer aggregates computed
while streaming); `load_customers` then reads the Stripe records of one batch of billing
customers, so memory stays bounded by the batch, not by the store. Each keeps only what
had happened by the as-of time, and notes when what had not yet will (the wake times).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Label, Select, and_, case, func, or_, select, union
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Session

from connector.rules import records
from connector.rules.facts import EVERYTHING, UNPAID_STATUSES, Facts, Needs, earliest, visible
from connector.rules.reads.sql import IN_LIST, in_lists, read_as
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

_TABLE_OF: dict[type[tuple[Any, ...]], type[Base]] = {
    records.PartnerRecord: Partner,
    records.LeadRecord: Lead,
    records.ReferralRecord: Referral,
    records.DealRecord: Deal,
    records.ProductRecord: Product,
    records.PriceRecord: Price,
    records.SubscriptionRecord: Subscription,
    records.SubscriptionItemRecord: SubscriptionItem,
    records.InvoiceRecord: Invoice,
    records.InvoiceLineRecord: InvoiceLine,
    records.CreditNoteRecord: CreditNote,
    records.RefundRecord: Refund,
    records.DisputeRecord: Dispute,
    records.MarketingCostRecord: MarketingCost,
}
"""Which table each record is read from (its fields name the table's column attributes)."""


def load_global(session: Session, as_of: dt.datetime, *, per_customer: bool = True) -> Facts:
    """What spans customers: partners, submissions, catalogue, first purchases, credited refunds.

    The redacted `raw` payloads are left in the database: rules read canonical columns only.
    Without `per_customer` the aggregates kept per billing customer (`Facts.first_paid`,
    `Facts.event_payments`) are left to the caller, who reads them per batch
    (`connector.ledger.passverdicts`: `first_paid_stmt`, `event_payments_stmts`).
    """
    f = Facts(as_of=as_of)
    for p in _rows(session, records.PartnerRecord):
        f.partners[p.key] = p
        if p.partner_key:
            f.partners_by_ref.setdefault(p.partner_key, p)
    f.deals = _visible_rows(f, _rows(session, records.DealRecord))
    for deal in f.deals:
        f.note_global(deal.close_date)  # a won deal counts once signed (qualification.deal_won)
    f.products = {x.id: x for x in _rows(session, records.ProductRecord)}
    f.prices = {x.id: x for x in _rows(session, records.PriceRecord)}
    if per_customer:
        f.first_paid = _first_paid(session, f)
    f.credited_refund_ids = _credited_refund_ids(session, f)
    if per_customer:
        f.event_payments = _event_payments(session)
    # Last, and streamed: `build_submissions` (in a compute pass `unlinked_candidates`, each candidate
    # written to the pass's temporary tables as it is read) makes each PartnerStack customer, then each
    # lead, a candidate as it is read and keeps no list of their rows (some 700 and 550 bytes a row held
    # at once, 100,000 customers and 75,000 leads at L). It reads the customers to the end before the
    # leads' statement runs (both are lazy); nothing else reads the store between here and there.
    f.referrals = _visible_stream(f, _stream(session, records.ReferralRecord))
    f.leads = _visible_stream(f, _stream(session, records.LeadRecord))
    return f


def event_payments_stmts() -> list[Select[Any, str | None]]:
    """(value, billing customer) of the invoice payments some refund or dispute names: their payment
    intents, then their charges (`_event_payments`)."""
    out = []
    for column in (InvoicePayment.payment_intent, InvoicePayment.charge):
        name = column.key
        named = union(*(select(getattr(m, name)).where(getattr(m, name).is_not(None)) for m in (Refund, Dispute)))
        out.append(
            select(column, Invoice.customer_id)
            .join(Invoice, Invoice.id == InvoicePayment.invoice_id)
            .where(column.in_(named), Invoice.customer_id.is_not(None))
        )
    return out


def _event_payments(session: Session) -> dict[str, tuple[list[str], list[str]]]:
    """Per billing customer, the payment intents and charges of its invoices' payments that some refund
    or dispute names (read through the payments' intent and charge indexes).

    A few percent of payments have one; knowing them lets each batch ask for the refunds and
    disputes of those payments only, without reading every payment of the batch (one read per
    pass instead of one per batch, and a tenth of the rows).
    """
    out: dict[str, tuple[list[str], list[str]]] = {}  # lists (a batch's reader dedupes): a third of two sets
    for n, stmt in enumerate(event_payments_stmts()):
        for value, customer_id in session.connection().execute(stmt):
            if value is not None and customer_id is not None:  # (as the statement asks: for the types)
                out.setdefault(customer_id, ([], []))[n].append(value)
    return out


R = TypeVar("R", records.LeadRecord, records.ReferralRecord, records.DealRecord)


def _visible_rows(f: Facts, rows: list[R]) -> list[R]:
    """The submissions created by as-of; the others wake qualification when they appear."""
    out = []
    for x in rows:
        if visible(x.created_at, f.as_of):
            out.append(x)
        else:
            f.note_global(x.created_at)
    return out


def _visible_stream(f: Facts, rows: Iterator[R]) -> Iterator[R]:
    """`_visible_rows` one row at a time, for a single pass."""
    for x in rows:
        if visible(x.created_at, f.as_of):
            yield x
        else:
            f.note_global(x.created_at)


def first_paid_stmt(as_of: dt.datetime) -> Select[str | None, Any, Any, Any]:
    """Per billing customer: its first paid time by `as_of` (`_first_paid`), and the earliest payment and
    invoice creation after `as_of` (when qualification can next turn)."""
    paid_by = and_(Invoice.paid_at <= as_of, or_(Invoice.created.is_(None), Invoice.created <= as_of))
    return (
        select(
            Invoice.customer_id,
            func.min(case((paid_by, Invoice.paid_at))).label("paid_at"),
            func.min(case((Invoice.paid_at > as_of, Invoice.paid_at))).label("paid_later"),
            func.min(case((Invoice.created > as_of, Invoice.created))).label("created_later"),
        )
        .where(
            Invoice.status == "paid",
            Invoice.amount_paid > 0,
            Invoice.customer_id.is_not(None),
            Invoice.paid_at.is_not(None),
        )
        .group_by(Invoice.customer_id)
    )


def _first_paid(session: Session, f: Facts) -> dict[str, dt.datetime]:
    """Per customer, the earliest paid_at of a visible invoice paid by `as_of` with amount_paid > 0.

    Qualification (existing customer) and deal timing need it for every customer, the
    invoices themselves only per batch: so it is aggregated in the database, one row per
    customer. An invoice created or paid after as-of wakes qualification (it may make a
    later submission an existing customer): the same pass finds the earliest such time.
    """
    first: dict[str, dt.datetime] = {}
    for customer_id, paid_at, paid_later, created_later in session.connection().execute(first_paid_stmt(f.as_of)):
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


Rec = TypeVar("Rec", bound=tuple[Any, ...])


def _rows(
    session: Session,
    record: type[Rec],
    where: ColumnElement[bool] | None = None,
    *,
    via_invoice: Mapped[Any] | None = None,
) -> list[Rec]:
    """The rows of `record`'s table matching `where` (all without), by primary key, as `record`s.

    No ORM identity map or change tracking (several times lighter and faster to build than
    instances), and executed on the connection, past the ORM's result layer: the rules only
    read these records. Each Core row becomes a named tuple (`connector.rules.records`): a Row
    answers an attribute through a fallback lookup some twenty times slower than a named tuple's,
    and the rules read a dozen attributes of every invoice. `via_invoice` joins the invoices on
    that column, so `where` may name the invoice's customer.
    """
    selected, id_column = _columns(record)
    stmt = select(*selected)
    if via_invoice is not None:
        stmt = stmt.join(Invoice, Invoice.id == via_invoice)
    stmt = stmt.order_by(id_column)
    if where is not None:
        stmt = stmt.where(where)
    # tuple.__new__: a named tuple from a row's values, without the generated __new__'s Python frame
    return [tuple.__new__(record, row) for row in session.connection().execute(stmt).all()]


STREAM_ROWS = 2_000
"""Rows a streamed read fetches at a time (`_stream`)."""


def _stream(session: Session, record: type[Rec]) -> Iterator[Rec]:
    """Every row of `record`'s table by primary key, as `_rows` reads them, fetched `STREAM_ROWS` at a time
    (PostgreSQL: a server-side cursor) and never held as a list."""
    selected, id_column = _columns(record)
    stmt = select(*selected).order_by(id_column).execution_options(yield_per=STREAM_ROWS)
    for row in session.connection().execute(stmt):
        yield tuple.__new__(record, row)


@functools.cache
def _columns(record: type[tuple[Any, ...]]) -> tuple[tuple[Label[Any], ...], ColumnElement[Any]]:
    """The columns of `record`'s fields labelled with their names, and the table's primary key; built
    once so every batch's statement shares them (and the compiled-statement cache keeps one entry per
    table)."""
    mapper = sa_inspect(_TABLE_OF[record])
    fields: tuple[str, ...] = getattr(record, "_fields")  # noqa: B009 (typing has no NamedTuple-class bound)
    return tuple(read_as(mapper.columns[name], name) for name in fields), mapper.primary_key[0]


INVOICE_COLUMNS = records.InvoiceRecord._fields
"""The invoice attributes the rules read: all of them are in the index `ix_st_invoices_compute`
(migration 0004), so a batch's invoices are read from the index alone, never from the table rows
that carry the raw payloads (some 3 kB each: a page per invoice). An invoice in `Facts` has
only these attributes."""


def load_customers(session: Session, base: Facts, customer_ids: Sequence[str], needs: Needs = EVERYTHING) -> Facts:
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
    _load_subscriptions(session, f, ids if needs.subscriptions else [])
    invoiced = ids if needs.invoices else []  # the batch's invoices are read (and joined) by their customers
    customer_of = _load_invoices(session, f, invoiced)
    lined = invoiced if needs.lines else []
    for line in _rows_in(session, records.InvoiceLineRecord, InvoiceLine.invoice_id, lined, via_invoice=True):
        f.lines[line.invoice_id].append(line)
    if not needs.adjustments:
        invoiced = []
    _load_credit_notes(session, f, invoiced, customer_of)
    _load_payment_events(session, f, invoiced, customer_of)
    for cost in _rows_in(session, records.MarketingCostRecord, MarketingCost.customer_id, ids if needs.costs else []):
        if visible(cost.date, as_of):
            f.costs[cost.customer_id].append(cost)
        f.note(cost.customer_id, cost.date)
    return f


def _load_subscriptions(session: Session, f: Facts, customer_ids: list[str]) -> None:
    """The customers' subscriptions that had started by as-of (the others wake them), and their items."""
    sub_ids = []
    for sub in _rows_in(session, records.SubscriptionRecord, Subscription.customer_id, customer_ids):
        sub_ids.append(sub.id)
        start = sub.start_date or sub.created
        if sub.customer_id and visible(start, f.as_of):
            f.subscriptions[sub.customer_id].append(sub)
        f.note(sub.customer_id, start)
    for item in _rows_in(session, records.SubscriptionItemRecord, SubscriptionItem.subscription_id, sub_ids):
        f.items[item.subscription_id].append(item)


def _load_invoices(session: Session, f: Facts, customer_ids: list[str]) -> dict[str, str | None]:
    """The customers' invoices created by as-of; returns every invoice's customer, visible or not."""
    customer_of: dict[str, str | None] = {}
    for inv in _rows_in(session, records.InvoiceRecord, Invoice.customer_id, customer_ids):
        customer_of[inv.id] = inv.customer_id
        if visible(inv.created, f.as_of):
            f.invoices[inv.id] = inv
            if inv.customer_id:
                f.invoices_by_customer[inv.customer_id].append(inv)
        _note_invoice(f, inv)
    return customer_of


def _load_credit_notes(session: Session, f: Facts, customer_ids: list[str], customer_of: dict[str, str | None]) -> None:
    """The non-void credit notes on the customers' invoices created by as-of (the others wake them)."""
    for cn in _rows_in(session, records.CreditNoteRecord, CreditNote.invoice_id, customer_ids, via_invoice=True):
        if cn.invoice_id and cn.status != "void":
            if visible(cn.created, f.as_of):
                f.credit_notes[cn.invoice_id].append(cn)
            f.note(customer_of.get(cn.invoice_id), cn.created)


def _note_invoice(f: Facts, inv: records.InvoiceRecord) -> None:
    """An invoice's times that as-of has not reached: created (visible), paid (paid, first purchase), and
    the due date of one still open then (a past-due gate closes once as-of is *past* it).

    Inlined comparisons (the common case notes nothing): this runs for every invoice of a full pass.
    """
    as_of, status, paid_at = f.as_of, inv.status, inv.paid_at
    if inv.created is not None and inv.created > as_of:
        f.note(inv.customer_id, inv.created)
    if status == "paid" and paid_at is not None and paid_at > as_of:
        f.note(inv.customer_id, paid_at)
    unpaid = status in UNPAID_STATUSES or (status == "paid" and (paid_at is None or paid_at > as_of))  # by as-of
    if unpaid and inv.due_date is not None and inv.due_date >= as_of:
        f.note(inv.customer_id, inv.due_date, strict=True)


def _rows_in(
    session: Session,
    record: type[Rec],
    column: Mapped[Any],
    values: Sequence[Any],
    *,
    via_invoice: bool = False,
) -> list[Rec]:
    """`record`s whose `column` is one of `values`, by primary key (see `_rows`).

    Values are passed as lists, not subqueries: the batch's keys are already in hand, and a
    subquery was evaluated again by every statement that named it. With `via_invoice`, `column`
    names an invoice and `values` are billing customers: the rows of those customers' invoices,
    joined in the database (a batch's customer ids are a tenth of its invoice ids to send).
    """
    where_column: Any = Invoice.customer_id if via_invoice else column
    link = column if via_invoice else None
    out: list[Rec] = []
    for chunk in in_lists(values):
        out.extend(_rows(session, record, where_column.in_(chunk), via_invoice=link))
    if len(values) <= IN_LIST:
        return out  # one statement: already in primary-key order
    _, id_column = _columns(record)
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
    refunds = _paid_through(session, records.RefundRecord, Refund, sorted(batch_pis), sorted(batch_charges))
    disputes = _paid_through(session, records.DisputeRecord, Dispute, sorted(batch_pis), sorted(batch_charges))
    f.refunds = [r for r in refunds if r.status == "succeeded" and visible(r.created, as_of)]
    f.disputes = [d for d in disputes if visible(d.created, as_of)]
    events: list[records.RefundRecord | records.DisputeRecord] = [*refunds, *disputes]
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


E = TypeVar("E", records.RefundRecord, records.DisputeRecord)


def _paid_through(
    session: Session, record: type[E], table: type[Refund | Dispute], pis: list[str], charges: list[str]
) -> list[E]:
    """The refunds/disputes naming one of the payment intents or charges (each list read through its index)."""
    found = {r.id: r for r in _rows_in(session, record, table.payment_intent, pis)}
    found.update((r.id, r) for r in _rows_in(session, record, table.charge, charges))
    return [found[k] for k in sorted(found)]


def _first_invoice_by(session: Session, column: Mapped[str | None], values: Sequence[str]) -> dict[str, str]:
    """value -> invoice of the first (by id) non-canceled invoice payment carrying it, as a global read gives."""
    out: dict[str, str] = {}
    for chunk in in_lists(values):  # a value's payments are all in its chunk: first-wins holds per chunk
        stmt = (
            select(column, InvoicePayment.invoice_id, InvoicePayment.status)
            .where(column.in_(chunk))
            .order_by(InvoicePayment.id)
        )
        for value, invoice_id, status in session.connection().execute(stmt):
            if value and invoice_id and status != "canceled":
                out.setdefault(value, invoice_id)
    return out
