"""Money, below every stage: currencies and their minor units, the one rounding, presentation.

Why one module: an amount is integer minor units beside a currency everywhere in the
connector; how many digits a currency has, how a basis times a rate is rounded (once,
half up) and how an amount is shown to a person must mean the same thing in the rules,
the ledger, the mappings and every report format.

- Currencies: every ISO 4217 code is known (an unknown code means we cannot tell what an
  amount is worth; such a record is quarantined instead of guessed at), but the exponent is
  Stripe's, not ISO's: amounts arrive in Stripe's minor units, and the program file's major-unit
  bands and bonuses must be scaled the way Stripe counts (ISK 2, MGA 0; see `STRIPE_ZERO_DECIMAL`).
- Arithmetic: Fractions until the single rounding per entry.
- Presentation: minor units to major units without a float in between, so a JPY amount
  never grows two decimals and a USD amount never loses a cent to binary floats.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

# Every active ISO 4217 code (funds and precious-metal codes included): what counts as a currency.
_ISO_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS "
    "KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
    "MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR "
    "SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD "
    "USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL"
)

# Stripe, "Supported currencies" (https://docs.stripe.com/currencies): unless listed otherwise a
# currency is two-decimal (1000 = 10.00).
# - Zero-decimal (#zero-decimal): the API amount is the whole amount (500 = 500 JPY). Note MGA (two
#   digits in ISO 4217, none at Stripe) and that ISK is not in it (none in ISO 4217, two at Stripe).
STRIPE_ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
# - Three-decimal (#three-decimal): 5.124 KWD is 5124 (Stripe wants the last digit 0 when charging;
#   an amount read back still counts thousandths).
STRIPE_THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# - Special cases (#special-cases): charges or payouts in whole units while the API amount keeps
#   its digits, so the exponent does not change. ISK: "ISK will remain a two-decimal currency in the
#   Stripe API, and an ISK amount of `100` will continue to represent 1 króna" (support.stripe.com,
#   "Deprecation of fractional ISK charges and refunds"). HUF, TWD: treated as zero-decimal for
#   payouts although charges have two decimals (payout amounts divisible by 100). UGX: in the
#   zero-decimal list, 1 = 1 USh.
STRIPE_SPECIAL_CASES: dict[str, str] = {
    "isk": "two decimals in the API (100 = 1 ISK); charges are whole krónur, multiples of 100",
    "huf": "two decimals in the API (100 = 1 HUF); payouts are whole forint, multiples of 100",
    "twd": "two decimals in the API (100 = 1 TWD); payouts are whole dollars, multiples of 100",
    "ugx": "zero-decimal in the API (1 = 1 UGX), as the zero-decimal list says",
}
# Codes Stripe does not charge in keep ISO 4217's digits (a finance file or a reward may name them).
_ISO_NOT_AT_STRIPE = {"iqd": 3, "lyd": 3, "clf": 4, "uyw": 4, "uyi": 0}


def _stripe_exponent(code: str) -> int:
    if code in STRIPE_ZERO_DECIMAL:
        return 0
    if code in STRIPE_THREE_DECIMAL:
        return 3
    return _ISO_NOT_AT_STRIPE.get(code, 2)


MINOR_EXPONENTS: dict[str, int] = {code.lower(): _stripe_exponent(code.lower()) for code in _ISO_CODES.split()}


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
    """Digits after the decimal point in `currency`'s Stripe amounts (case-insensitive): JPY 0, ISK 2, KWD 3."""
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
