"""Exact money presentation: minor units to major units without a float in between.

Every renderer turns `amount_minor` into what a person reads through here, so a JPY
amount never grows two decimals and a USD amount never loses a cent to binary floats.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from connector.currency import minor_exponent


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
