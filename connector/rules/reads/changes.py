"""What changed in the store since a compute: mirror rows stamped after its mark, as the rules see them.

`connector.store.writes.upsert_rows` stamps a row with the change clock's tick when it is inserted
or its content changes; a compute takes tick T, moves the clock to T + 1 and records T as
its mark. The rows stamped after the previous mark (or never stamped: NULL) are what can
have changed since, and this module turns them into what the rules are keyed by: partner
keys, submission rows and billing customers.

Every mapping errs on the side of more: a refund is charged to every customer whose invoice
payments carry its payment intent or charge (the rules place it on the first one only), a
credit note also to the customers of the refunds it lists. A row whose placing columns changed
also names what it named before (`MirrorDeparture`, written by the database's triggers): the
customer a record left is affected as much as the one it joined. Recomputing a customer whose
result did not change costs time; missing one would cost money.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from connector.rules.reads.sql import in_lists
from connector.store.models import (
    ChangeClock,
    ComputeState,
    CreditNote,
    Deal,
    Dispute,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    Lead,
    MarketingCost,
    MirrorDeparture,
    Partner,
    Price,
    Product,
    PushMark,
    Quarantine,
    Referral,
    Refund,
    Subscription,
    SubscriptionItem,
)

TRACKED = (
    Partner, Lead, Deal, Referral, Product, Price, Subscription, SubscriptionItem, Invoice, InvoiceLine,
    CreditNote, Refund, Dispute, InvoicePayment, MarketingCost,
)  # fmt: skip
"""The mirror tables the rules read; a change to any other table cannot change a result."""


@dataclass
class Changes:
    """The keys of what changed, in the rules' terms."""

    catalogue: bool = False  # products or prices: every customer's basis may change
    partners: set[str] = field(default_factory=set)
    leads: set[str] = field(default_factory=set)
    referrals: set[str] = field(default_factory=set)
    deals: set[str] = field(default_factory=set)
    billing_ids: set[str] = field(default_factory=set)  # Stripe customers with changed records
    rows: int = 0  # stamped rows seen, all tables

    @property
    def any(self) -> bool:
        return self.rows > 0


def advance_clock(session: Session) -> int | None:
    """Take the current tick T and move the clock to T + 1: rows written from now on are after T.

    Runs inside the compute's transaction, so a compute that rolls back leaves the clock (and
    its state) where they were and the next run sees the same changes again. None when the
    clock row was missing (rows were stamped 1 meanwhile): nothing can be trusted to be seen,
    the caller must run full; the clock restarts after tick 1, and push's marks on it are forgotten
    (`connector.push.marks`).
    """
    tick = session.scalar(select(ChangeClock.seq).where(ChangeClock.id == 1))
    if tick is None:
        session.add(ChangeClock(id=1, seq=2))
        session.flush()
        session.execute(delete(PushMark))  # push's marks are ticks of the clock that went missing
        return None
    session.execute(update(ChangeClock).where(ChangeClock.id == 1).values(seq=tick + 1))
    return tick


def _fresh(model: Any, mark: int) -> ColumnElement[bool]:
    column = model.changed_seq
    return or_(column > mark, column.is_(None))


def adopt_unstamped(session: Session, tick: int) -> None:
    """Stamp rows written without the clock (NULL) with `tick`: this compute has now seen them."""
    for model in (*TRACKED, MirrorDeparture):
        session.execute(update(model).where(model.changed_seq.is_(None)).values(changed_seq=tick))


def prune_departures(session: Session) -> None:
    """Drop the departures every program's compute has seen (at or before the lowest mark).

    A program with no state yet runs full, which reads no departure."""
    lowest = session.scalar(select(func.min(ComputeState.mark)))
    if lowest is not None:
        session.execute(delete(MirrorDeparture).where(MirrorDeparture.changed_seq <= lowest))


def changes_since(session: Session, mark: int) -> Changes:
    """The changes stamped after `mark`, each table read through its `changed_seq` index."""
    out = Changes()

    def keys(model: Any, column: Any) -> set[Any]:
        found = set(session.scalars(select(column).where(_fresh(model, mark))))
        out.rows += len(found)
        return found

    out.catalogue = bool(keys(Product, Product.id) | keys(Price, Price.id))
    out.partners = keys(Partner, Partner.key)
    out.leads = keys(Lead, Lead.key)
    out.referrals = keys(Referral, Referral.key)
    out.deals = keys(Deal, Deal.key)

    billing: set[str | None] = set()
    billing |= keys(Invoice, Invoice.customer_id)
    billing |= keys(Subscription, Subscription.customer_id)
    billing |= keys(MarketingCost, MarketingCost.customer_id)
    item_subs = keys(SubscriptionItem, SubscriptionItem.subscription_id)
    invoices: set[str | None] = keys(InvoiceLine, InvoiceLine.invoice_id)
    intents: set[str | None] = set()
    charges: set[str | None] = set()
    refund_ids: set[str] = set()

    # what changed rows named before: mapped below as the rows' current values are
    departed = select(
        MirrorDeparture.customer_id, MirrorDeparture.invoice_id, MirrorDeparture.subscription_id,
        MirrorDeparture.payment_intent, MirrorDeparture.charge, MirrorDeparture.refund_ids,
    ).where(_fresh(MirrorDeparture, mark))  # fmt: skip
    for customer_id, invoice_id, subscription_id, pi, charge, listed in session.execute(departed):
        out.rows += 1
        billing.add(customer_id)
        invoices.add(invoice_id)
        item_subs.add(subscription_id)
        intents.add(pi)
        charges.add(charge)
        refund_ids.update(listed or [])
    billing |= _column_of(session, Subscription.customer_id, Subscription.id, item_subs)

    # a credit note: its invoice's customer, and the customers of the refunds it lists
    for invoice_id, customer_id, listed in session.execute(
        select(CreditNote.invoice_id, CreditNote.customer_id, CreditNote.refund_ids).where(_fresh(CreditNote, mark))
    ):
        out.rows += 1
        invoices.add(invoice_id)
        billing.add(customer_id)
        refund_ids.update(listed or [])
    # payment intents and charges whose placement may have moved: changed refunds, disputes and payments
    for model in (Refund, Dispute, InvoicePayment):
        for pi, charge in session.execute(select(model.payment_intent, model.charge).where(_fresh(model, mark))):
            out.rows += 1
            intents.add(pi)
            charges.add(charge)
    for chunk in in_lists(sorted(refund_ids)):
        stmt = select(Refund.payment_intent, Refund.charge).where(Refund.id.in_(chunk))
        for pi, charge in session.execute(stmt):
            intents.add(pi)
            charges.add(charge)
    _placed_alike(session, intents, charges)
    invoices |= _column_of(session, InvoicePayment.invoice_id, InvoicePayment.payment_intent, intents)
    invoices |= _column_of(session, InvoicePayment.invoice_id, InvoicePayment.charge, charges)
    invoices |= keys(InvoicePayment, InvoicePayment.invoice_id)
    billing |= _column_of(session, Invoice.customer_id, Invoice.id, invoices)
    # quarantine rows written or resolved since: the holds they put or lift (`reads.holds`)
    held_refs: set[str] = set()
    stmt = select(Quarantine.customer_id, Quarantine.partner_key).where(Quarantine.changed_seq > mark)
    for customer_id, partner_key in session.execute(stmt):
        out.rows += 1
        billing.add(customer_id)
        if partner_key:
            held_refs.add(partner_key)
    if held_refs:
        out.partners |= _column_of(session, Partner.key, Partner.partner_key, held_refs)
        out.partners |= _column_of(session, Partner.key, Partner.key, held_refs)
    out.billing_ids = {b for b in billing if b is not None}
    for found in (out.partners, out.leads, out.referrals, out.deals):
        found.discard(None)
    return out


def _column_of(session: Session, wanted: Any, by: Any, values: Iterable[Any]) -> set[Any]:
    """`wanted` of the rows whose `by` is one of `values` (None values skipped)."""
    out: set[Any] = set()
    for chunk in in_lists(sorted(v for v in values if v is not None)):
        out.update(session.scalars(select(wanted).where(by.in_(chunk))))
    out.discard(None)
    return out


def _placed_alike(session: Session, intents: set[str | None], charges: set[str | None]) -> None:
    """Add the other handle of every refund or dispute naming one of these intents or charges.

    One is placed by its payment intent, else by its charge: a payment that starts carrying a
    refund's intent takes the refund off the invoice its charge placed it on, so that invoice's
    customer is affected too (and the other way round).
    """
    for model in (Refund, Dispute):
        for by, column in ((model.payment_intent, intents), (model.charge, charges)):
            for chunk in in_lists(sorted(v for v in column if v is not None)):
                stmt = select(model.payment_intent, model.charge).where(by.in_(chunk))
                for pi, charge in session.execute(stmt).all():
                    intents.add(pi)
                    charges.add(charge)
