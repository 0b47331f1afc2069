"""Exact arithmetic for commissions: Fractions until the single rounding per entry."""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction


def round_half_up(value: Fraction) -> int:
    """Round to an integer, ties away from zero (Decimal's ROUND_HALF_UP: 2.5 -> 3, -2.5 -> -3)."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return sign * whole


def commission(basis: Fraction, rate: Decimal) -> int:
    """The one rounding of an entry: basis (exact, minor units) x rate."""
    return round_half_up(basis * exact(rate))


@functools.lru_cache(maxsize=256)
def exact(rate: Decimal) -> Fraction:
    """A rate as an exact Fraction; a program has a handful of rates, each converted once."""
    return Fraction(rate)


def rate_str(rate: Decimal) -> str:
    """A rate as the ledger stores it: at least two decimals ("0.20", "0.055")."""
    return str(rate.quantize(Decimal("0.01"))) if rate == rate.quantize(Decimal("0.01")) else str(rate.normalize())
