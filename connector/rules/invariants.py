"""Money invariants at the door: an adjustment that cannot be right is set aside, never booked.

Stripe guarantees that a charge is never refunded (or lost in a dispute) beyond what it
collected, that credit notes never credit more than their invoice was paid, and that a refund,
dispute or credit note is in its invoice's currency. A record that breaks one of these is
wrong upstream or in transit, and booking it would move money nobody owes: a 540,000 refund
on a 108,000 charge would claw back five times the commission the charge earned, a JPY refund
would be taken off a USD invoice as if ¥ were cents. Such a record is quarantined with a
reason code and left out of the facts, and its billing customer's unpushed entries are held
`upstream_quarantined` (`connector.rules.gates`) until the record is fixed upstream: nothing is
paid or clawed back on a guess.

Pure: checks `Facts` after a batch is loaded (`connector.rules.reads.holds` keeps the
quarantine rows and their holds).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector.rules.facts import Facts
from connector.rules.gates import UPSTREAM_QUARANTINED
from connector.rules.netrevenue import post_payment_amount
from connector.rules.records import CreditNoteRecord, DisputeRecord, InvoiceRecord, RefundRecord

__all__ = ["UPSTREAM_QUARANTINED", "Holds", "Violation", "enforce"]

REFUND_EXCEEDS_CHARGE = "refund_exceeds_charge"
DISPUTE_EXCEEDS_CHARGE = "dispute_exceeds_charge"
CREDIT_NOTE_EXCEEDS_INVOICE = "credit_note_exceeds_invoice"
CURRENCY_MISMATCH = "adjustment_currency_mismatch"
DUPLICATE_ID_CONFLICT = "duplicate_id_conflict"
UNMAPPABLE = "unmappable"
UPSTREAM_NOT_FOUND = "upstream_not_found"  # parked: a record it refers to answers 404 (`connector.pull.parking`)
UNUSABLE_BODY = "unusable_body"  # parked: its body never parsed, on every retry
PARKED_REASONS = (UPSTREAM_NOT_FOUND, UNUSABLE_BODY)

INVARIANT_REASONS = frozenset(
    {REFUND_EXCEEDS_CHARGE, DISPUTE_EXCEEDS_CHARGE, CREDIT_NOTE_EXCEEDS_INVOICE, CURRENCY_MISMATCH}
)
"""The codes this module decides (and a later compute resolves); the others are the pull's."""

_SOURCE = {RefundRecord: "stripe.refunds", DisputeRecord: "stripe.disputes", CreditNoteRecord: "stripe.credit_notes"}
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Violation:
    """One record that breaks an invariant: its quarantine row, and the billing customer it holds."""

    source: str  # the stream key, as the quarantine names sources
    source_id: str
    reason: str
    customer_id: str | None
    detail: str


@dataclass
class Holds:
    """Who the unresolved quarantine rows hold: billing customers, and partners by any of their keys
    (a deal names its partner by referral key or partnership key)."""

    billing_ids: set[str] = field(default_factory=set)
    partner_keys: set[str] = field(default_factory=set)

    def partnerships(self, facts: Facts) -> set[str]:
        """The partnership keys (part_…) the held partner keys name."""
        out = set()
        for key in self.partner_keys:
            partner = facts.partners.get(key) or facts.partners_by_ref.get(key)
            out.add(partner.key if partner is not None else key)
        return out


def enforce(facts: Facts) -> list[Violation]:
    """The batch's adjustments that break an invariant, removed from `facts` (so none is booked).

    Per paid invoice, in the order they happened (ties by id): each adjustment must be in the
    invoice's currency; refunds and lost disputes together must not take back more than the
    invoice collected (`amount_paid`); the post-payment parts of its credit notes likewise. The
    adjustment that would cross the line is the one set aside; the earlier ones stand.
    """
    violations: list[Violation] = []
    for invoice_id in sorted(facts.adjusted_invoices()):
        invoice = facts.invoices.get(invoice_id)
        if invoice is None or not facts.is_paid(invoice):
            continue  # not commissioned (yet): nothing of it is booked, nothing to guard
        taken: list[RefundRecord | DisputeRecord] = [*facts.refunds_of(invoice_id)]
        taken.extend(d for d in facts.disputes_of(invoice_id) if d.status == "lost")
        violations.extend(_payment_events(invoice, taken))
        violations.extend(_credit_notes(invoice, facts.credit_notes.get(invoice_id, [])))
    if violations:
        bad = {(v.source, v.source_id) for v in violations}
        facts.drop_adjustments(
            refunds={i for s, i in bad if s == "stripe.refunds"},
            disputes={i for s, i in bad if s == "stripe.disputes"},
            credit_notes={i for s, i in bad if s == "stripe.credit_notes"},
        )
    return violations


def _in_order(records: list[RefundRecord | DisputeRecord]) -> list[RefundRecord | DisputeRecord]:
    return sorted(records, key=lambda r: (r.created or _EARLIEST, r.id))


def _payment_events(invoice: InvoiceRecord, taken: list[RefundRecord | DisputeRecord]) -> list[Violation]:
    out: list[Violation] = []
    left = invoice.amount_paid
    for event in _in_order(taken):
        source = _SOURCE[type(event)]
        if (mismatch := _currency(source, event.id, event.currency, invoice)) is not None:
            out.append(mismatch)
            continue
        if event.amount > left:
            reason = REFUND_EXCEEDS_CHARGE if isinstance(event, RefundRecord) else DISPUTE_EXCEEDS_CHARGE
            detail = f"{event.amount} {event.currency} on invoice {invoice.id}: {left} of {invoice.amount_paid} left"
            out.append(Violation(source, event.id, reason, invoice.customer_id, detail))
            continue
        left -= event.amount
    return out


def _credit_notes(invoice: InvoiceRecord, notes: list[CreditNoteRecord]) -> list[Violation]:
    out: list[Violation] = []
    left = invoice.amount_paid
    for cn in sorted(notes, key=lambda c: (c.created or _EARLIEST, c.id)):
        if (mismatch := _currency("stripe.credit_notes", cn.id, cn.currency, invoice)) is not None:
            out.append(mismatch)
            continue
        amount, _ = post_payment_amount(cn, invoice)
        if amount > left:
            detail = f"{amount} {cn.currency} after payment, invoice {invoice.id}: {left} of {invoice.amount_paid} left"
            reason = CREDIT_NOTE_EXCEEDS_INVOICE
            out.append(Violation("stripe.credit_notes", cn.id, reason, invoice.customer_id, detail))
            continue
        left -= int(amount)
    return out


def _currency(source: str, source_id: str, currency: str, invoice: InvoiceRecord) -> Violation | None:
    if currency.lower() == invoice.currency.lower():
        return None
    detail = f"{currency} on invoice {invoice.id} in {invoice.currency}"
    return Violation(source, source_id, CURRENCY_MISMATCH, invoice.customer_id, detail)
