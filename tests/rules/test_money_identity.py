"""Rounding, calendar arithmetic and company identity: the small pieces every rule leans on."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.money import commission, rate_str, round_half_up
from connector.rules.identity import company_domain, email_domain, normalise_company_name
from connector.rules.schedule import add_months, end_of_month_after

UTC = dt.UTC


def test_round_half_up_ties_away_from_zero() -> None:
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3
    assert round_half_up(Fraction(249_999_95, 100)) == 250_000
    assert round_half_up(Fraction(7, 3)) == 2
    assert commission(Fraction(4_999_999), Decimal("0.05")) == 250_000


@settings(max_examples=60)
@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_round_half_up_matches_decimal(num: int, den: int) -> None:
    expected = (Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    exact = Fraction(num, den)
    if exact.denominator <= 10**6:  # Decimal's 28 digits are exact enough here
        assert round_half_up(exact) == int(expected)


def test_rate_str() -> None:
    assert rate_str(Decimal("0.2")) == "0.20"
    assert rate_str(Decimal("0.055")) == "0.055"


def test_calendar() -> None:
    assert add_months(dt.datetime(2026, 1, 31, tzinfo=UTC), 1) == dt.datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(dt.datetime(2026, 2, 3, tzinfo=UTC), 36) == dt.datetime(2029, 2, 3, tzinfo=UTC)
    # Connectus: start 15 Jan -> payable 30 Apr (00:00 UTC of the last day)
    assert end_of_month_after(dt.datetime(2026, 1, 15, 9, 30, tzinfo=UTC), 3) == dt.datetime(2026, 4, 30, tzinfo=UTC)
    assert end_of_month_after(dt.datetime(2026, 11, 2, tzinfo=UTC), 3) == dt.datetime(2027, 2, 28, tzinfo=UTC)


def test_company_identity() -> None:
    assert email_domain("Ops@AcmeRobotics.IO") == "acmerobotics.io"
    assert email_domain("https://www.acme.io/about") == "acme.io"
    assert company_domain("joe@gmail.com") is None
    assert company_domain("joe@Outlook.com") is None
    assert company_domain("someone@yahoo.com") is None
    assert normalise_company_name("Acme Robotics, Inc.") == "acme robotics"
    assert normalise_company_name("ACME ROBOTICS") == "acme robotics"
    assert normalise_company_name("Meyer Partners GmbH") == "meyer partners"
    assert normalise_company_name("Lovelace Advisory L.L.C.") == "lovelace advisory"
    assert normalise_company_name("Fox & Hound Pubs plc") == "fox and hound pubs"
    assert normalise_company_name("Ltd") == "ltd"  # a name that is only a suffix keeps it
