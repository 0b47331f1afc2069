"""Payout currency: what an entry pays in the currency rewards are pushed in (programs.md, "Payout currency").

Why a step of its own: PartnerStack takes rewards in one currency (USD cents), while a ledger entry
keeps the currency its invoice was billed in. An entry in another currency is converted at finance's
rate for its event date (the latest rate on or before that date), rounded once, half up, to the reward
currency's minor unit; with no such rate it cannot be paid yet and is held `fx_rate_missing`, never
pushed as its own minor units (¥10,000 is not $100.00).

Pure: the rates arrive as rows (`adapters.files.fx` reads finance's file); nothing here reads a file
or the store.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from connector.money import commission, minor_exponent, normalize_currency

FX_RATE_MISSING = "fx_rate_missing"
SAME_CURRENCY = "same currency"


class FxRate(NamedTuple):
    """One rate of finance's file: `rate` units of the reward currency per one unit of `currency` from `date` on."""

    date: dt.date
    currency: str  # lower-case ISO code
    rate: Decimal
    source: str  # where it was read: "fx.csv:12"


@dataclass(frozen=True, slots=True)
class Payout:
    """What an entry pays in the reward currency, and how that was arrived at."""

    amount_minor: int
    currency: str
    rate: str  # Decimal as text ("1" for an entry already in the reward currency)
    date: dt.date | None  # the rate's date (None: same currency)
    source: str  # the rate's file and line, or "same currency"


def convert(amount_minor: int, currency: str, rate: Decimal, reward_currency: str) -> int:
    """amount_minor × rate × 10^(exp_reward − exp_currency), rounded once, half up (money.commission).

    The exponents turn minor units of one currency into minor units of the other: ¥10,000 (JPY has no
    minor unit) at 0.0067 USD per yen is 10000 × 0.0067 × 10² = 6700 cents.
    """
    shift = minor_exponent(reward_currency) - minor_exponent(currency)
    basis = Fraction(amount_minor * 10**shift) if shift >= 0 else Fraction(amount_minor, 10**-shift)
    return commission(basis, rate)


class PayoutRates:
    """Finance's rates by currency, in date order, for one reward currency."""

    def __init__(self, reward_currency: str, rates: Iterable[FxRate] = ()) -> None:
        self.reward_currency = normalize_currency(reward_currency)
        by_currency: dict[str, list[FxRate]] = defaultdict(list)
        for r in rates:
            if r.currency == self.reward_currency and r.rate != 1:
                raise ValueError(f"{r.source}: a {r.currency.upper()} rate must be 1, the reward currency's own")
            by_currency[r.currency].append(r)
        self._rates = {c: sorted(rows) for c, rows in by_currency.items()}
        self._dates = {c: [r.date for r in rows] for c, rows in self._rates.items()}

    def rate_on(self, currency: str, day: dt.date) -> FxRate | None:
        """The latest rate of `currency` on or before `day`."""
        dates = self._dates.get(currency)
        if not dates:
            return None
        i = bisect.bisect_right(dates, day)
        return self._rates[currency][i - 1] if i else None

    def payout(self, amount_minor: int, currency: str, event_at: dt.datetime | None) -> Payout | None:
        """The entry's payout, or None when no rate applies (no rate on or before its event date)."""
        if currency == self.reward_currency:
            return Payout(amount_minor, currency, "1", None, SAME_CURRENCY)
        if event_at is None:
            return None
        found = self.rate_on(currency, event_at.astimezone(dt.UTC).date())
        if found is None:
            return None
        amount = convert(amount_minor, currency, found.rate, self.reward_currency)
        return Payout(amount, self.reward_currency, str(found.rate), found.date, found.source)

    def digest(self) -> str:
        """Changes whenever what an entry records could: another reward currency, rate, or rate's line."""
        h = hashlib.sha256(self.reward_currency.encode())
        for currency in sorted(self._rates):
            for r in self._rates[currency]:
                h.update(f"|{r.currency},{r.date.isoformat()},{r.rate},{r.source}".encode())
        return h.hexdigest()
