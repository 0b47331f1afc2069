"""Net revenue of a paid invoice and the adjustments that follow it (programs.md).

Per paid invoice: `amount_paid − tax`, counting only the lines the program does not
exclude (exclusions pro-rated by line amount). Each post-payment credit note, refund
without a credit note, and lost dispute is its own negative basis, pro-rated for tax
(and excluded lines) the same way. Everything stays a Fraction until the entry rounds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from connector.rules.facts import Facts
from connector.rules.notes import num
from connector.rules.program import Program
from connector.rules.records import (
    CreditNoteRecord,
    InvoiceLineRecord,
    InvoiceRecord,
    ProductRecord,
    SubscriptionItemRecord,
)
from connector.rules.schedule import add_months


@dataclass(frozen=True)
class Adjustment:
    source_id: str
    basis: Fraction  # negative
    at: dt.datetime | None
    what: str  # credit_note | refund | dispute
    how: str = ""  # the basis's arithmetic in words, for the entry's note (`connector.rules.notes`)


def _category(facts: Facts, product_id: str | None, price_id: str | None) -> str | None:
    product: ProductRecord | None = facts.products.get(product_id) if product_id else None
    if product is None and price_id and (price := facts.prices.get(price_id)) is not None and price.product_id:
        product = facts.products.get(price.product_id)
    return product.category if product is not None else None


def line_earns(facts: Facts, program: Program, line: InvoiceLineRecord) -> bool:
    c = program.commission
    if _category(facts, line.product_id, line.price_id) in c.excluded_categories:
        return False
    if c.earning_price_types:
        price = facts.prices.get(line.price_id) if line.price_id else None
        return price is not None and price.type in c.earning_price_types
    return True


def item_earns(facts: Facts, program: Program, item: SubscriptionItemRecord) -> bool:
    c = program.commission
    if _category(facts, item.product_id, item.price_id) in c.excluded_categories:
        return False
    if c.earning_price_types:
        price_type = item.price_type
        if price_type is None and item.price_id and (price := facts.prices.get(item.price_id)) is not None:
            price_type = price.type
        return price_type in c.earning_price_types
    return True


def earning_share(facts: Facts, program: Program, invoice: InvoiceRecord) -> Fraction:
    """The part of the invoice (by line amount) that earns; an invoice without lines earns whole.

    Memoised per invoice on the facts (the basis and each adjustment ask for it; the program
    is fixed for the facts' lifetime, one compute batch).
    """
    share = facts.earning_shares.get(invoice.id)
    if share is None:
        share = facts.earning_shares[invoice.id] = _earning_share(facts, program, invoice)
    return share


_WHOLE = Fraction(1)
_NOTHING = Fraction(0)


def _every_line_earns(program: Program) -> bool:
    c = program.commission
    return not c.excluded_categories and not c.earning_price_types


def _earning_share(facts: Facts, program: Program, invoice: InvoiceRecord) -> Fraction:
    if _every_line_earns(program):
        return _WHOLE  # the share is 1 whatever the lines
    lines = facts.lines.get(invoice.id, [])
    total = sum(line.amount for line in lines)
    if not lines or total == 0:
        return Fraction(1)
    earning = sum(line.amount for line in lines if line_earns(facts, program, line))
    return Fraction(earning, total)


def invoice_basis(facts: Facts, program: Program, invoice: InvoiceRecord) -> Fraction:
    """amount_paid − tax, times the earning share, capped after the term by the contract-change rule."""
    net = invoice.amount_paid - invoice.tax
    if program.contract_change is None and _every_line_earns(program):
        # every line earns and nothing caps: the common case, in integers (a full pass does this for every
        # paid invoice; `earning_share` would answer 1)
        return Fraction(net) if net > 0 else _NOTHING
    share = earning_share(facts, program, invoice)
    basis = Fraction(net)
    if share != 1:
        basis *= share
    if program.contract_change is not None and invoice.customer_id:
        original = original_contract(facts, program, invoice.customer_id)
        if original is not None:
            term_end, monthly = original
            if invoice.created is not None and invoice.created >= term_end:
                basis = min(basis, Fraction(monthly))
    return max(basis, _NOTHING)


def original_contract(facts: Facts, program: Program, customer_id: str) -> tuple[dt.datetime, int] | None:
    """(end of the original term, original monthly amount) of the customer's first subscription."""
    assert program.contract_change is not None
    sub = facts.first_subscription(customer_id)
    start = sub.start_date or sub.created if sub is not None else None
    if sub is None or start is None:
        return None
    term = sub.term_months or program.contract_change.default_term_months
    monthly = sum(
        (i.unit_amount or 0) * (i.quantity or 0) for i in facts.items.get(sub.id, []) if item_earns(facts, program, i)
    )
    return add_months(start, term), monthly


def post_payment_amount(cn: CreditNoteRecord, invoice: InvoiceRecord) -> tuple[Fraction, Fraction]:
    """(post-payment total incl. tax, the same excl. tax) of a credit note; pre-payment is outside amount_paid."""
    none = Fraction(0), Fraction(0)
    if cn.type == "pre_payment":
        return none
    if cn.type == "mixed" and cn.post_payment_amount is not None and cn.total:
        share = Fraction(cn.post_payment_amount, cn.total)
        return Fraction(cn.post_payment_amount), cn.total_excluding_tax * share
    if cn.type is None and invoice.paid_at is not None and cn.created is not None and cn.created < invoice.paid_at:
        return none
    return Fraction(cn.total), Fraction(cn.total_excluding_tax)


def adjustments(facts: Facts, program: Program, invoice: InvoiceRecord, basis: Fraction) -> list[Adjustment]:
    """Negative bases that follow a commissioned invoice: credit notes, refunds, lost disputes."""
    out: list[Adjustment] = []
    credit_notes = facts.credit_notes.get(invoice.id)
    refunds = facts.refunds_of(invoice.id)
    disputes = facts.disputes_of(invoice.id)
    if invoice.amount_paid <= 0 or not (credit_notes or refunds or disputes):
        return out  # most invoices: nothing followed them
    per_paid = basis / invoice.amount_paid
    share = earning_share(facts, program, invoice)
    scaled = f"× basis {num(basis)} / amount paid {num(invoice.amount_paid)}"

    for cn in credit_notes or []:
        total, excluding_tax = post_payment_amount(cn, invoice)
        if total <= 0:
            continue
        if program.commission.credit_note_amount == "total_excluding_tax":
            amount = excluding_tax * share
            how = f"{num(excluding_tax)} excluding tax" + (f" × earning share {share}" if share != 1 else "")
        else:
            amount, how = total * per_paid, f"{num(total)} {scaled}"
        out.append(Adjustment(cn.id, -amount, cn.created, "credit_note", how))
    for refund in refunds:
        if refund.id in facts.credited_refund_ids:
            continue  # the credit note that lists it already counted it
        out.append(Adjustment(refund.id, -(refund.amount * per_paid), refund.created, "refund",
                              f"{num(refund.amount)} {scaled}"))
    for dispute in disputes:
        if dispute.status != "lost":
            continue
        out.append(Adjustment(dispute.id, -(dispute.amount * per_paid), dispute.created, "dispute",
                              f"{num(dispute.amount)} {scaled}"))
    return out
