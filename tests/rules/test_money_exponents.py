"""Currency exponents are Stripe's (docs.stripe.com/currencies), not ISO 4217's: the amounts the
connector reads are Stripe's minor units, so formatting and the program file's major-unit bands and
bonuses must count digits the way Stripe does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connector.money import (
    MINOR_EXPONENTS,
    STRIPE_SPECIAL_CASES,
    STRIPE_THREE_DECIMAL,
    STRIPE_ZERO_DECIMAL,
    excel_number_format,
    format_money,
    minor_exponent,
    to_major,
)
from connector.rules.kinds import band_rate
from connector.rules.program import bundled_program_path, load_program


def test_stripe_lists_decide_the_exponent() -> None:
    assert sorted(STRIPE_ZERO_DECIMAL) == [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    ]
    assert sorted(STRIPE_THREE_DECIMAL) == ["bhd", "jod", "kwd", "omr", "tnd"]
    assert all(MINOR_EXPONENTS[c] == 0 for c in STRIPE_ZERO_DECIMAL)
    assert all(MINOR_EXPONENTS[c] == 3 for c in STRIPE_THREE_DECIMAL)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("isk", 2),  # ISO 4217 says 0; Stripe keeps two decimals in the API (100 = 1 ISK)
        ("mga", 0),  # ISO 4217 says 2; Stripe lists it zero-decimal
        ("huf", 2), ("twd", 2),  # whole units only for payouts; amounts keep two decimals
        ("ugx", 0),
        ("usd", 2), ("JPY", 0), ("kwd", 3),
        ("clf", 4), ("iqd", 3),  # not Stripe currencies: ISO's digits
    ],
)
def test_exponents(currency: str, exponent: int) -> None:
    assert minor_exponent(currency) == exponent


def test_every_special_case_is_a_known_currency() -> None:
    assert sorted(STRIPE_SPECIAL_CASES) == ["huf", "isk", "twd", "ugx"]
    assert all(c in MINOR_EXPONENTS for c in STRIPE_SPECIAL_CASES)


def test_formatting_follows_stripe() -> None:
    assert format_money(500000, "isk") == "5,000.00 ISK"  # Stripe's 500000 is 5,000 krónur, not 500,000
    assert format_money(123456, "mga") == "123,456 MGA"
    assert format_money(-1234567, "huf") == "-12,345.67 HUF"
    assert format_money(5124, "kwd") == "5.124 KWD"
    assert to_major(500000, "isk") == Decimal("5000.00")
    assert excel_number_format("mga") == '#,##0 "MGA";-#,##0 "MGA"'


def test_program_major_units_scale_with_stripe_exponents() -> None:
    tech = load_program(bundled_program_path("tech-consultant"))
    # the first bonus is 1000 major units: 100000 ISK minor units (two decimals), 1000 MGA (none)
    assert tech.to_minor(tech.bonuses[0].amount, "isk") == 100000
    assert tech.to_minor(tech.bonuses[0].amount, "mga") == 1000
    # bands start at 50,000 and 150,000 major units
    assert band_rate(tech, 4_999_999, "isk") == Decimal("0.03")
    assert band_rate(tech, 5_000_000, "isk") == Decimal("0.05")
    assert band_rate(tech, 50_000, "mga") == Decimal("0.05")
    assert band_rate(tech, 150_000, "mga") == Decimal("0.08")
