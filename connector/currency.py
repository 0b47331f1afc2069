"""ISO 4217 currencies and their minor-unit exponents (JPY 0, USD 2, KWD 3, CLF 4).

Why a table: amounts arrive in minor units, so a currency code we do not know means we
cannot tell what an amount is worth; such a record is quarantined instead of guessed at.
Source: the ISO 4217 list (active codes, including funds and precious-metal codes).
"""

from __future__ import annotations

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
