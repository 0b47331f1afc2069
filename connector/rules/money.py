"""Exact arithmetic for commissions: Fractions until the single rounding per entry."""

from __future__ import annotations

import functools
from decimal import Decimal
from fractions import Fraction


def round_half_up(value: Fraction) -> int:
    """Round to an integer, ties away from zero (Decimal's ROUND_HALF_UP: 2.5 -> 3, -2.5 -> -3)."""
    return _round_ratio(value.numerator, value.denominator)


def _round_ratio(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0, not necessarily in lowest terms) rounded half up."""
    sign = -1 if numerator < 0 else 1
    whole, rest = divmod(abs(numerator), denominator)
    if 2 * rest >= denominator:
        whole += 1
    return sign * whole


def commission(basis: Fraction, rate: Decimal) -> int:
    """The one rounding of an entry: basis (exact, minor units) x rate.

    The product is rounded as a ratio of integers, without building the Fraction (the same
    value: rounding does not depend on the ratio being in lowest terms).
    """
    r = exact(rate)
    return _round_ratio(basis.numerator * r.numerator, basis.denominator * r.denominator)


@functools.lru_cache(maxsize=256)
def exact(rate: Decimal) -> Fraction:
    """A rate as an exact Fraction; a program has a handful of rates, each converted once."""
    return Fraction(rate)


def rate_str(rate: Decimal) -> str:
    """A rate as the ledger stores it: at least two decimals ("0.20", "0.055")."""
    return str(rate.quantize(Decimal("0.01"))) if rate == rate.quantize(Decimal("0.01")) else str(rate.normalize())
