"""Every entry explains itself: its note states the arithmetic, the rule and the source events.

Why text in the ledger rather than a recomputation at report time: the note is written once,
with the entry, from the very numbers the rules used, so a report, a partner statement and the
description pushed with the reward all say the same thing for years, even after the program file
or the code has moved on. Amounts are minor units of the entry's currency, grouped by thousands,
negatives with a true minus sign ("basis −120,000 × 0.20 = −24,000, capped at −16,000 …").

Formatting costs: a full pass builds a desired entry per commissioned event but appends (and so
formats) almost none of them, so a note is an `Explained` holding its parts, turned into text only
when the ledger appends its entry (`rules.desired.note_text`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction

from connector.money import commission, exact

MINUS = "\u2212"


def num(value: int | Fraction) -> str:
    """An amount in minor units as a note shows it: `−120,000`; a non-integral basis to four decimals."""
    if isinstance(value, Fraction) and value.denominator != 1:
        text = f"{(Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal('0.0001')):,}"
    else:
        text = f"{int(value):,}"
    return text.replace("-", MINUS)


def percent(rate: Decimal) -> str:
    """0.20 → "20 %", 0.055 → "5.5 %"."""
    return f"{(rate * 100).normalize():f} %"


def arithmetic(basis: Fraction, rate: Decimal, amount: int | None = None) -> str:
    """`basis B × R = A`, saying so when the one half-up rounding moved the exact product."""
    product = basis * exact(rate)
    rounded = commission(basis, rate) if amount is None else amount
    if product == rounded:
        return f"basis {num(basis)} × {rate} = {num(rounded)}"
    return f"basis {num(basis)} × {rate} = {num(product)}, rounded half-up to {num(rounded)}"


class Explained:
    """A note made of parts: what happened (`what`), the arithmetic, a cap, the rule.

    Callable (a `rules.desired.Note`): the text is built only when the entry is appended. `what`
    may itself be a callable for a head that needs work to say (an invoice's earning share).
    """

    __slots__ = ("what", "basis", "rate", "rule", "cap")

    def __init__(
        self, what: str | Callable[[], str], basis: Fraction, rate: Decimal, rule: str, cap: str | None = None
    ) -> None:
        self.what, self.basis, self.rate, self.rule, self.cap = what, basis, rate, rule, cap

    def capped(self, amount: int, customer: str | None) -> Explained:
        """The same note for an entry the never-below-zero floor cut down to `amount`."""
        counted = Fraction(amount) / exact(self.rate)
        cap = (f"capped at {num(amount)} (basis counted {num(counted)}) so the total of "
               f"{customer or 'the customer'} stays at zero (never below zero, in event-time order)")  # fmt: skip
        return Explained(self.what, self.basis, self.rate, self.rule, cap)

    def __call__(self) -> str:
        what = self.what() if callable(self.what) else self.what
        text = f"{what}; {arithmetic(self.basis, self.rate)}"
        if self.cap:
            text += f", {self.cap}"
        return f"{text}; rule: {self.rule}" if self.rule else text


def capped_text(note: str | None, amount: int, customer: str | None) -> str:
    """A plain-text note with the floor's cap appended (a note that is not an `Explained`)."""
    return (f"{note or 'entry'}, capped at {num(amount)} so the total of {customer or 'the customer'} "
            f"stays at zero (never below zero, in event-time order)")  # fmt: skip


# ---------------------------------------------------------------- the rules' own words


def net_revenue_rule(program: str, group: str | None, rate: Decimal, months: int | None, start: dt.date | None) -> str:
    """Consio-style: the rate of the partner's group on net revenue, over the commission period."""
    period = f"for {months} months from the first paid invoice ({_day(start)})" if months else "with no end date"
    where = f"group {group}" if group else "default rate"
    return f"{program}: {percent(rate)} ({where}) of net revenue, {period}"


def invoice_what(invoice_id: str, paid_at: dt.date | None, amount_paid: int, tax: int, basis: Fraction,
                 why_less: str | None = None) -> str:  # fmt: skip
    """amount paid − tax = net, and what took the basis below net (excluded lines, a contract cap)."""
    net = amount_paid - tax
    text = (f"invoice {invoice_id} paid {_day(paid_at)}: amount paid {num(amount_paid)} − tax {num(tax)} "
            f"= net {num(net)}")
    if basis != net:
        text += f"; {why_less or 'earning part'} → {num(basis)}"
    return text


def adjustment_what(what: str, source_id: str, at: dt.date | None, invoice_id: str, how: str | None) -> str:
    label = {"credit_note": "credit note", "dispute": "lost dispute"}.get(what, what)
    text = f"{label} {source_id} ({_day(at)}) on invoice {invoice_id}"
    return f"{text}: {how}" if how else text


def cost_what(note: str | None, cost_id: str, date: dt.date | None, amount: int) -> str:
    name = f"'{note}'" if note else cost_id
    return f"marketing cost {name} dated {_day(date)} ({num(amount)}, finance's cost file)"


def unpriced_note(what: str | Callable[[], str] | None, basis: Fraction, missing: str) -> str:
    """An entry held `rate_unknown`: the event and its basis, and which rate the program does not name."""
    head = what() if callable(what) else what or "entry"
    return (f"{head}; basis {num(basis)} × rate unknown: {missing}, "
            f"so 0 is booked, held (rate_unknown, after any gate) until the program names one")


def group_rate_missing(program: str, group: str | None) -> str:
    return f"partner group {group!r} has no rate in {program}'s rates.by_group"


def band_rate_missing(program: str, value: int) -> str:
    return f"project value {num(value)} reaches no band of {program}'s rates.bands and there is no rates.default"


def correction_note(
    entry_keys: Sequence[str], booked: int, wanted: int, changed: Sequence[str], now: str | None
) -> str:
    """A correction: which entries it corrects, what changed, the difference, and the new arithmetic."""
    corrects = entry_keys[0] if len(entry_keys) == 1 else f"{entry_keys[0]} (with {', '.join(entry_keys[1:])})"
    what = ", ".join(changed) if changed else "the amount"
    text = (f"correction of {corrects}: changed {what}; booked {num(booked)}, now {num(wanted)}, "
            f"difference {num(wanted - booked)}")  # fmt: skip
    return f"{text}. Now: {now}" if now else text


def takeback_note(entry_keys: Sequence[str], booked: int, why: str | None = None) -> str:
    """A group no longer owed, taken back whole."""
    corrects = entry_keys[0] if len(entry_keys) == 1 else f"{entry_keys[0]} (with {', '.join(entry_keys[1:])})"
    because = why or "the rules no longer give this entry for the world as it now stands"
    return f"take-back of {corrects}: {because}; booked {num(booked)}, now 0, difference {num(-booked)}"


def _day(value: dt.date | None) -> str:
    if value is None:
        return "no date"
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
