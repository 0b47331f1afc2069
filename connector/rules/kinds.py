"""Commission kinds: from a qualified submission to the entries its program promises.

Three reusable bases cover the four programs: `net_revenue` (an entry per paid invoice
in the commission period plus one per adjustment and marketing cost), `contract_value_12m`
(one entry on the first subscription's 12-month value) and `deal_value` (one entry on a
won deal's value, plus at most one milestone bonus). The customer floor is applied last.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import partial

from connector.money import commission, round_half_up
from connector.rules import notes
from connector.rules.desired import DesiredEntry, Note, group_key, note_text
from connector.rules.facts import Facts
from connector.rules.netrevenue import adjustments, earning_share, invoice_basis, item_earns, original_contract
from connector.rules.program import Program
from connector.rules.qualification import Submission, Verdict
from connector.rules.ratekeys import RATE_UNKNOWN
from connector.rules.records import (
    InvoiceRecord,
    MarketingCostRecord,
    PartnerRecord,
    SubscriptionItemRecord,
    SubscriptionRecord,
)
from connector.rules.schedule import add_months, at_midnight, end_of_month_after

PERIODS_PER_YEAR = {"day": 365, "week": 52, "month": 12, "year": 1}


@dataclass(frozen=True)
class RuleFinding:
    """Something a rule noticed but could not pay on (e.g. `rate_unknown`), as the rules return it.

    Not the `connector.store.models.Finding` table: compute writes each pass's rule findings
    there, one row per run, and reads the last run's back as `RuleFinding`s.
    """

    subject_key: str
    code: str
    detail: str


@dataclass
class KindOutput:
    entries: list[DesiredEntry]
    findings: list[RuleFinding]


def group_rate(program: Program, partner: PartnerRecord) -> Decimal | None:
    slug = partner.group_slug or ""
    return program.rates.by_group.get(slug, program.rates.default)


def band_rate(program: Program, value_minor: int, currency: str) -> Decimal | None:
    """The band whose `from` (major units, inclusive) the value reaches; else the default rate."""
    rate = program.rates.default
    for band in program.rates.bands:
        if value_minor >= program.to_minor(band.from_, currency):
            rate = band.rate
    return rate


def tier_for(program: Program, successful: int) -> tuple[str | None, Decimal]:
    name, add = None, Decimal(0)
    for tier in program.rates.tiers:
        if successful >= tier.min_referrals:
            name, add = tier.name, tier.add
    return name, add


def _entry(
    program: Program,
    sub: Submission,
    kind: str,
    source: str,
    basis: Fraction,
    rate: Decimal,
    currency: str,
    **kw: object,
) -> DesiredEntry:
    assert sub.partner is not None
    return DesiredEntry(
        group_key=group_key(program.name, sub.partner.key, sub.customer_key, kind, source),
        partnership_key=sub.partner.key,
        customer_key=sub.customer_key,
        kind=kind,
        basis=basis,
        rate=rate,
        amount=commission(basis, rate),
        currency=currency,
        **kw,  # type: ignore[arg-type]
    )


class _Entries:
    """`_entry` for one submission's many entries at one rate: what they share is worked out once.

    A full pass makes an entry per commissioned invoice (over 100,000 at M): the group key's
    prefix, the rate as a ratio of integers and a plain positional constructor saved most of
    the cost of making each. The group key is `rules.desired.group_key`'s, by construction.
    """

    __slots__ = ("_prefix", "_partner", "_customer", "_rate")

    def __init__(self, program: Program, sub: Submission, rate: Decimal) -> None:
        assert sub.partner is not None
        self._prefix = group_key(program.name, sub.partner.key, sub.customer_key, "", "")[:-1]  # ends in "|"
        self._partner, self._customer, self._rate = sub.partner.key, sub.customer_key, rate

    def make(
        self, kind: str, source: str, basis: Fraction, currency: str, sources: tuple[str, ...],
        event_at: dt.datetime | None, note: Note,
    ) -> DesiredEntry:  # fmt: skip
        """The entry of `kind` on `source`, its amount `commission(basis, rate)` (the one rounding)."""
        amount = commission(basis, self._rate)
        return DesiredEntry(
            f"{self._prefix}{kind}|{source}", self._partner, self._customer, kind, basis, self._rate, amount,
            currency, sources, event_at, None, None, note,
        )  # fmt: skip


# ---------------------------------------------------------------- net revenue


def net_revenue_entries(program: Program, facts: Facts, sub: Submission) -> Iterator[DesiredEntry | RuleFinding]:
    """A commission on each paid invoice in the commission period, a clawback on each of its adjustments,
    and one on each marketing cost (when the program counts them)."""
    assert sub.partner is not None and sub.billing_customer_id is not None
    slug = terms_group(program, facts, sub)
    rate = program.rates.by_group.get(slug or "", program.rates.default)
    if rate is None:  # loud, never a silent zero: the entries are booked unpriced and held `rate_unknown`
        yield RuleFinding(sub.key, RATE_UNKNOWN, f"no rate for partner group {slug!r}")
        missing = notes.group_rate_missing(program.name, slug)
        yield from (_unpriced(missing, e) for e in _net_revenue(program, facts, sub, slug, Decimal(0)))
        return
    yield from _net_revenue(program, facts, sub, slug, rate)


def _unpriced(missing: str, e: DesiredEntry) -> DesiredEntry:
    """The entry an event would earn, as if its partner's group had a rate: one per event, amount and basis
    0 (nothing is known to be owed), held `rate_unknown` after the gates; its note keeps the basis at stake.
    Once the program names a rate, the group's correction books the real basis × rate."""
    what = e.note.what if isinstance(e.note, notes.Explained) else note_text(e.note)
    basis = e.basis
    note = partial(notes.unpriced_note, what, basis, missing)
    return e._replace(basis=Fraction(0), rate=Decimal(0), amount=0, pending_reason=RATE_UNKNOWN, note=note)


def _net_revenue(
    program: Program, facts: Facts, sub: Submission, slug: str | None, rate: Decimal
) -> Iterator[DesiredEntry]:
    assert sub.partner is not None and sub.billing_customer_id is not None
    start = facts.first_paid_at(sub.billing_customer_id)
    if start is None:
        return
    c = program.commission
    months = c.period_months.get(slug or "", c.default_period_months)
    end = add_months(start, months) if months is not None else None
    entries = _Entries(program, sub, rate)
    rule = notes.net_revenue_rule(program.name, slug, rate, months, start)
    adjusted = facts.adjusted_invoices()
    for inv in facts.paid_invoices(sub.billing_customer_id):
        paid_at = inv.paid_at
        assert paid_at is not None
        if paid_at < start or (end is not None and paid_at >= end):
            continue
        if c.paid_in_full and inv.amount_remaining != 0:
            continue
        yield from _invoice_entries(program, facts, entries, inv, paid_at, rate, inv.id in adjusted, rule)
    if c.marketing_costs:
        yield from _cost_entries(facts.costs.get(sub.billing_customer_id, []), end, entries, rate, rule)


def terms_group(program: Program, facts: Facts, sub: Submission) -> str | None:
    """The partner group whose rate and period the customer earns at: the one recorded at its first booking
    (`[commission] terms_at_first_booking`), else the partner's group now."""
    assert sub.partner is not None
    key = (sub.partner.key, sub.customer_key)
    if program.commission.terms_at_first_booking and key in facts.terms:
        return facts.terms[key]
    return sub.partner.group_slug


def _invoice_entries(
    program: Program, facts: Facts, entries: _Entries, inv: InvoiceRecord, paid_at: dt.datetime, rate: Decimal,
    adjusted: bool, rule: str,
) -> Iterator[DesiredEntry]:  # fmt: skip
    """The commission on one paid invoice with a positive basis, then a clawback on each of its
    adjustments (only an `adjusted` invoice has any)."""
    basis = invoice_basis(facts, program, inv)
    if basis.numerator <= 0:  # basis <= 0 (a Fraction's denominator is positive), without Fraction's compare
        return
    yield entries.make(
        "commission", inv.id, basis, inv.currency, (inv.id,), paid_at,
        notes.Explained(partial(_invoice_what, facts, program, inv, paid_at, basis), basis, rate, rule),
    )  # fmt: skip
    if not adjusted:  # most invoices: nothing followed them
        return
    for adj in adjustments(facts, program, inv, basis):
        yield entries.make(
            "clawback", adj.source_id, adj.basis, inv.currency, (adj.source_id, inv.id), adj.at,
            notes.Explained(notes.adjustment_what(adj.what, adj.source_id, adj.at, inv.id, adj.how), adj.basis, rate,
                            rule),
        )  # fmt: skip


def _cost_entries(
    costs: list[MarketingCostRecord], end: dt.datetime | None, entries: _Entries, rate: Decimal, rule: str
) -> Iterator[DesiredEntry]:
    """A clawback on each marketing cost dated before the commission period ends."""
    for cost in costs:
        if end is not None and cost.date >= end:
            continue
        yield entries.make(
            "clawback", cost.id, Fraction(-cost.amount), cost.currency, (cost.id,), at_midnight(cost.date),
            notes.Explained(partial(notes.cost_what, cost.note, cost.id, cost.date, cost.amount),
                            Fraction(-cost.amount), rate, f"{rule}; marketing costs count against it"),
        )  # fmt: skip


# Notes are formatted only for an entry that is appended (`desired.note_text`): a recompute mostly appends nothing.


def _invoice_what(facts: Facts, program: Program, inv: InvoiceRecord, paid_at: dt.datetime, basis: Fraction) -> str:
    """The invoice's net, and what took its basis below it: excluded lines, the contract-change cap."""
    why: list[str] = []
    share = earning_share(facts, program, inv)
    if share != 1:
        why.append(f"earning lines {share.numerator}/{share.denominator} of the invoice")
    if program.contract_change is not None and inv.customer_id:
        original = original_contract(facts, program, inv.customer_id)
        if original is not None and inv.created is not None and inv.created >= original[0]:
            why.append(f"after the original term ({original[0].date().isoformat()}): "
                       f"min(original monthly {notes.num(original[1])}, this invoice)")  # fmt: skip
    return notes.invoice_what(inv.id, paid_at, inv.amount_paid, inv.tax, basis, "; ".join(why) or None)


def _day(value: dt.datetime | None) -> str:
    return value.date().isoformat() if value is not None else "no date"


def _show(value: Fraction) -> str:
    """An exact basis for a note; a non-integral one to four decimals, never via float."""
    if value.denominator == 1:
        return str(value.numerator)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001")))


# ---------------------------------------------------------------- 12-month contract value


def _periods_in_year(item: SubscriptionItemRecord) -> Fraction:
    if item.interval is None or item.price_type == "one_time":
        return Fraction(1)  # a one-time item is billed once
    per_year = PERIODS_PER_YEAR.get(item.interval)
    if per_year is None:
        return Fraction(0)
    return Fraction(per_year, item.interval_count or 1)


def contract_value_12m(
    program: Program, facts: Facts, subscription: SubscriptionRecord, subject: str
) -> tuple[Fraction, list[RuleFinding]]:
    """Σ unit_amount × quantity × billing periods in 12 months over the items that count."""
    value = Fraction(0)
    findings: list[RuleFinding] = []
    margin = program.margin
    for item in facts.items.get(subscription.id, []):
        if not item_earns(facts, program, item) or not item.unit_amount:
            continue
        if margin is not None:
            product = facts.products.get(item.product_id or "")
            unit_cost = product.unit_cost if product is not None else None
            if unit_cost is None:
                findings.append(RuleFinding(subject, "margin_unknown", f"{item.product_id} has no unit_cost: excluded"))
                continue
            gross = Fraction(item.unit_amount - unit_cost, item.unit_amount)
            if gross < Fraction(margin.min_gross_margin):
                findings.append(
                    RuleFinding(subject, "margin_below_minimum", f"{item.product_id} margin {_show(gross * 100)} %")
                )
                continue
        value += item.unit_amount * (item.quantity or 0) * _periods_in_year(item)
    return value, findings


def contract_value_entries(program: Program, facts: Facts, sub: Submission) -> Iterator[DesiredEntry | RuleFinding]:
    assert sub.partner is not None and sub.billing_customer_id is not None
    subscription = facts.first_subscription(sub.billing_customer_id)
    if subscription is None:
        return
    start = subscription.start_date or subscription.created
    value, findings = contract_value_12m(program, facts, subscription, sub.key)
    yield from findings
    rate = group_rate(program, sub.partner)
    unpriced = rate is None
    if rate is None:  # loud: booked unpriced and held `rate_unknown` (`_unpriced`)
        yield RuleFinding(sub.key, RATE_UNKNOWN, f"no rate for partner group {sub.partner.group_slug!r}")
        rate = Decimal(0)
    currency = subscription.currency or program.currency_default
    payable_at = None
    if program.payable.when == "end_of_month_after_start" and start is not None:
        payable_at = end_of_month_after(start, program.payable.months_after_start)
    if _void_by_cancellation(program, facts, subscription, payable_at):
        return  # what was booked is taken back: the pair is `reversed` when neither was pushed
    entry = _entry(
        program, sub, "commission", subscription.id, value, rate, currency,
        sources=(subscription.id,), event_at=start, payable_at=payable_at,
        pending_reason=None if payable_at or start else "awaiting_contract_start",
        note=notes.Explained(
            f"12-month contract value of subscription {subscription.id} (start {_day(start)}; hardware and services "
            f"below the margin or without a unit cost excluded) = {notes.num(value)}", value, rate,
            f"{program.name}: {notes.percent(rate)} one-off of the 12-month contract value"
            + (f", payable from {_day(payable_at)}" if payable_at else ""),
        ),
        final=program.payable.final_once_payable and payable_at is not None and payable_at <= facts.as_of,
    )  # fmt: skip
    yield _unpriced(notes.group_rate_missing(program.name, sub.partner.group_slug), entry) if unpriced else entry


def _void_by_cancellation(
    program: Program, facts: Facts, subscription: SubscriptionRecord, payable_at: dt.datetime | None
) -> bool:
    """The contract was cancelled before its reward became payable (`[payable] void_if_cancelled_before_payable`).

    A cancellation dated after as-of has not happened yet: it wakes the customer when it has.
    """
    cancelled = subscription.canceled_at
    if not program.payable.void_if_cancelled_before_payable or cancelled is None or payable_at is None:
        return False
    if cancelled > facts.as_of:
        facts.note(subscription.customer_id, cancelled)
        return False
    return cancelled < payable_at


# ---------------------------------------------------------------- deal value


def deal_entries(
    program: Program, facts: Facts, sub: Submission, successful: int
) -> Iterator[DesiredEntry | RuleFinding]:
    """The commission (value band + tier) and the milestone bonus of a closed-won deal.

    A value below every band with no `rates.default` has no rate: loud, never a silent zero — the
    commission is booked unpriced and held `rate_unknown`, with a finding; the bonus needs no rate.
    """
    deal = sub.deal
    assert deal is not None and sub.partner is not None
    value = deal.amount or 0
    currency = (deal.currency or program.currency_default).lower()
    banded = band_rate(program, value, currency)
    if banded is None:
        yield RuleFinding(
            sub.key,
            RATE_UNKNOWN,
            f"project value {value} ({currency} minor units) reaches no rate band; no rates.default",
        )
    for e in _deal_entries(program, facts, sub, successful, banded or Decimal(0)):
        commission_unpriced = banded is None and e.kind == "commission"
        yield _unpriced(notes.band_rate_missing(program.name, value), e) if commission_unpriced else e


def _deal_entries(
    program: Program, facts: Facts, sub: Submission, successful: int, base: Decimal
) -> Iterator[DesiredEntry]:
    deal = sub.deal
    assert deal is not None and sub.partner is not None
    value = deal.amount or 0
    currency = (deal.currency or program.currency_default).lower()
    tier, add = tier_for(program, successful)
    rate = base + add
    first_paid_at = facts.first_paid_at(deal.external_key) if deal.external_key else None
    timing: dict[str, object] = {"payable_at": None, "pending_reason": "awaiting_first_payment"}
    if program.payable.when == "after_first_payment" and first_paid_at is not None:
        timing = {"payable_at": first_paid_at, "pending_reason": None}
    elif program.payable.when != "after_first_payment":
        timing = {"payable_at": deal.close_date, "pending_reason": None}
    yield _entry(
        program, sub, "commission", deal.key, Fraction(value), rate, currency,
        sources=(deal.key,), event_at=deal.close_date,
        note=notes.Explained(
            f"deal {deal.key} closed won {_day(deal.close_date)}: project value {notes.num(value)}",
            Fraction(value), rate,
            f"{program.name}: rate {base} for the value band + {add} tier {tier or 'none'} "
            f"(the partner's successful referral #{successful}) = {rate}",
        ),
        **timing,
    )  # fmt: skip
    bonus = None
    for b in program.bonuses:
        if value > program.to_minor(b.over, currency):
            bonus = b
    if bonus is not None:
        amount = program.to_minor(bonus.amount, currency)
        yield _entry(
            program, sub, "bonus", deal.key, Fraction(amount), Decimal(1), currency,
            sources=(deal.key,), event_at=deal.close_date,
            note=notes.Explained(
                f"deal {deal.key}: milestone bonus, project value {notes.num(value)} over "
                f"{notes.num(program.to_minor(bonus.over, currency))}", Fraction(amount), Decimal(1),
                f"{program.name}: one milestone bonus per referral, the highest that applies",
            ),
            **timing,
        )  # fmt: skip


# ---------------------------------------------------------------- all kinds + floor


def desired_entries(program: Program, facts: Facts, verdicts: list[Verdict]) -> KindOutput:
    out: list[DesiredEntry] = []
    findings: list[RuleFinding] = []
    qualified = [v.submission for v in verdicts if v.decision == "qualified"]
    basis = program.commission.basis
    if basis == "deal_value":
        counts: dict[str, int] = defaultdict(int)
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        for sub in sorted(qualified, key=lambda s: (s.deal.close_date or far if s.deal else far, s.key)):
            assert sub.partner is not None
            counts[sub.partner.key] += 1
            for item in deal_entries(program, facts, sub, counts[sub.partner.key]):
                (findings if isinstance(item, RuleFinding) else out).append(item)  # type: ignore[arg-type]
    else:
        make = net_revenue_entries if basis == "net_revenue" else contract_value_entries
        for sub in qualified:
            for item in make(program, facts, sub):
                (findings if isinstance(item, RuleFinding) else out).append(item)  # type: ignore[arg-type]
    if program.commission.floor_at_zero:
        out = floor_at_zero(out)
    kept = [e for e in out if e.amount != 0 or e.pending_reason == RATE_UNKNOWN]  # unpriced entries are booked
    return KindOutput(kept, sorted(set(findings), key=lambda f: (f.subject_key, f.code)))


def floor_at_zero(entries: list[DesiredEntry]) -> list[DesiredEntry]:
    """A customer's total never goes below zero: cap negatives in event-time order, carry nothing."""
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    by_customer: dict[tuple[str, str | None, str], list[DesiredEntry]] = defaultdict(list)
    for e in entries:
        by_customer[(e.partnership_key, e.customer_key, e.currency)].append(e)
    out: list[DesiredEntry] = []
    for group in by_customer.values():
        total = 0
        for e in sorted(group, key=lambda e: (e.event_at or far, e.amount < 0, e.sources, e.group_key)):
            amount = e.amount
            if amount < 0 and total + amount < 0:
                amount = -total
                # the basis that counted, so basis x rate still gives the amount (the report ties out on it)
                counted = Fraction(amount) / Fraction(e.rate)
                note: Note | None = (
                    e.note.capped(amount, e.customer_key)
                    if isinstance(e.note, notes.Explained)
                    else notes.capped_text(note_text(e.note), amount, e.customer_key)
                )
                e = e._replace(amount=amount, basis=counted, note=note)
            total += amount
            out.append(e)
    return out


__all__ = ["RuleFinding", "KindOutput", "desired_entries", "contract_value_12m", "round_half_up"]
