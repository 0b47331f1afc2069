"""Money, below every stage: currencies and their minor units, the one rounding, presentation.

Why one module: an amount is integer minor units beside a currency everywhere in the
connector; how many digits a currency has, how a basis times a rate is rounded (once,
half up) and how an amount is shown to a person must mean the same thing in the rules,
the ledger, the mappings and every report format.

- Currencies: ISO 4217 codes and their minor-unit exponents (JPY 0, USD 2, KWD 3, CLF 4).
  Amounts arrive in minor units, so a currency code we do not know means we cannot tell
  what an amount is worth; such a record is quarantined instead of guessed at.
  Source: the ISO 4217 list (active codes, including funds and precious-metal codes).
- Arithmetic: Fractions until the single rounding per entry.
- Presentation: minor units to major units without a float in between, so a JPY amount
  never grows two decimals and a USD amount never loses a cent to binary floats.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
    "GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
    "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB "
    "PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP "
    "SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)

MINOR_EXPONENTS: dict[str, int] = {
    **{code.lower(): 2 for code in _TWO.split()},
    **{code.lower(): 0 for code in _ZERO.split()},
    **{code.lower(): 3 for code in _THREE.split()},
    **{code.lower(): 4 for code in _FOUR.split()},
}


class UnknownCurrency(ValueError):
    """Not an ISO 4217 code."""


def normalize_currency(code: object) -> str:
    """Lower-case ISO code (Stripe's spelling); raises `UnknownCurrency` for anything else."""
    if not isinstance(code, str) or code.strip().lower() not in MINOR_EXPONENTS:
        raise UnknownCurrency(f"unknown currency {code!r}")
    return code.strip().lower()


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code.strip().lower() in MINOR_EXPONENTS


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point in `currency` (case-insensitive)."""
    return MINOR_EXPONENTS[normalize_currency(currency)]


# --- arithmetic: the one rounding per entry ---


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


# --- presentation ---


def to_major(amount_minor: int, currency: str) -> Decimal:
    """The amount in major units, exact (`12345` USD → `Decimal("123.45")`)."""
    exponent = minor_exponent(currency)
    return Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def format_money(amount_minor: int, currency: str) -> str:
    """`1,234.50 USD`: what tables and the HTML page show."""
    exponent = minor_exponent(currency)
    return f"{to_major(amount_minor, currency):,.{exponent}f} {currency.upper()}"


def excel_number_format(currency: str) -> str:
    """A spreadsheet number format with the currency's own count of decimals."""
    exponent = minor_exponent(currency)
    digits = "#,##0" + ("." + "0" * exponent if exponent else "")
    return f'{digits} "{currency.upper()}";-{digits} "{currency.upper()}"'


def commission_of(basis_minor: int, rate: str) -> int:
    """What an entry should amount to: one ROUND_HALF_UP rounding, ties away from zero."""
    return int((Decimal(basis_minor) * Decimal(rate)).to_integral_value(rounding=ROUND_HALF_UP))


def iso_utc(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`, the one time format every report format uses."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.astimezone(dt.UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"
