"""What the entries pay in the reward currency: totals and tie-outs per payout currency.

Why apart from the per-currency checks: an entry keeps its own amount and currency (a GBP
commission is checked against GBP net revenue), while PartnerStack is paid in the payout currency
at finance's rate. Finance needs both sides: the original amounts tie out to the rules, and each
payout ties out to its amount × the rate it records, rounded once (connector.rules.payout.convert).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

from connector.money import format_money, minor_exponent
from connector.report.checks import exact_major
from connector.report.model import Check, EntryRow, PayoutTotals
from connector.rules.payout import convert

PAID_OUT = ("payable", "pushed")  # what is on its way to the platform or on it


def compute_payout_totals(entries: Iterable[EntryRow]) -> dict[str, PayoutTotals]:
    """Per payout currency: the payouts by status, and how many were converted from another currency."""
    totals: dict[str, PayoutTotals] = {}
    for e in entries:
        if e.payout_amount_minor is None or e.payout_currency is None:
            continue
        t = totals.setdefault(e.payout_currency, PayoutTotals(currency=e.payout_currency))
        t.entries += 1
        t.total_minor += e.payout_amount_minor
        t.converted += e.currency != e.payout_currency
        if e.status in PAID_OUT:
            setattr(t, f"{e.status}_minor", getattr(t, f"{e.status}_minor") + e.payout_amount_minor)
    return dict(sorted(totals.items()))


def _exact(e: EntryRow, payout_currency: str) -> Fraction:
    """amount × rate in the payout currency's minor units, before the one rounding."""
    shift = minor_exponent(payout_currency) - minor_exponent(e.currency)
    return Fraction(e.amount_minor) * Fraction(Decimal(e.fx_rate or "0")) * Fraction(10) ** shift


def _rounding_check(currency: str, mine: list[EntryRow], t: PayoutTotals) -> Check:
    """Each payout is its amount × its rate rounded once; the sum is within half a minor unit per entry."""
    wrong = tuple(
        f"{e.entry_key}: payout {e.payout_amount_minor} ≠ round({e.amount_minor} {e.currency.upper()} × {e.fx_rate})"
        f" = {expected}"
        for e in mine
        if (expected := convert(e.amount_minor, e.currency, Decimal(e.fx_rate or "0"), currency))
        != e.payout_amount_minor
    )
    exact = sum((_exact(e, currency) for e in mine), Fraction(0))
    room = Fraction(len(mine), 2)
    difference = t.total_minor - exact
    shown = exact_major(Decimal(exact.numerator) / Decimal(exact.denominator), minor_exponent(currency))
    statement = (
        f"{len(mine)} payouts in {currency.upper()} ({t.converted} converted at finance's rates): "
        f"Σ amount × rate = {shown} {currency.upper()}, "
        f"Σ payout {format_money(t.total_minor, currency)} (differs by at most half a minor unit per entry: "
        f"{'yes' if abs(difference) <= room else 'NO'})"
    )
    return Check("payout_is_amount_times_fx_rate", currency, statement, not wrong and abs(difference) <= room, wrong)


def _paid_check(currency: str, entries: list[EntryRow], t: PayoutTotals) -> Check:
    """Every payable or pushed entry converted into this currency says at which rate, of which date, from where."""
    lacking = tuple(
        e.entry_key for e in entries if e.status in PAID_OUT and not (e.fx_rate and e.fx_source)
    )
    return Check(
        "payouts_name_their_rate",
        currency,
        f"payable {format_money(t.payable_minor, currency)} + pushed {format_money(t.pushed_minor, currency)} "
        f"in {currency.upper()}, every entry with its rate and source",
        not lacking,
        lacking,
    )


def _unpaid_check(entries: list[EntryRow]) -> Check:
    """No payable entry is without a payout: one in another currency with no rate is held instead."""
    lacking = tuple(e.entry_key for e in entries if e.status == "payable" and e.payout_amount_minor is None)
    return Check(
        "payable_entries_have_payout",
        None,
        f"{sum(1 for e in entries if e.status == 'payable')} payable entries all carry a payout amount "
        "(no rate: held fx_rate_missing)",
        not lacking,
        lacking,
    )


def payout_checks(entries: list[EntryRow], totals: dict[str, PayoutTotals]) -> list[Check]:
    """The tie-outs of each payout currency, then the one that spans them (no payable entry without a payout)."""
    checks: list[Check] = []
    for currency, t in totals.items():
        mine = [e for e in entries if e.payout_currency == currency and e.payout_amount_minor is not None]
        checks.append(_rounding_check(currency, mine, t))
        checks.append(_paid_check(currency, mine, t))
    if entries:
        checks.append(_unpaid_check(entries))
    return checks
