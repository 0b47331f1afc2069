"""Period specs: a month, a quarter, a range of dates or months, each a half-open UTC interval."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.ledger.history import next_month, placed
from connector.report.period import parse_period


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "start", "end", "months"),
    [
        ("2026-11", _utc(2026, 11, 1), _utc(2026, 12, 1), ["2026-11"]),
        ("2026-12", _utc(2026, 12, 1), _utc(2027, 1, 1), ["2026-12"]),
        ("2026Q4", _utc(2026, 10, 1), _utc(2027, 1, 1), ["2026-10", "2026-11", "2026-12"]),
        ("2026-q1", _utc(2026, 1, 1), _utc(2026, 4, 1), ["2026-01", "2026-02", "2026-03"]),
        ("2026-10-15..2026-11-14", _utc(2026, 10, 15), _utc(2026, 11, 15), ["2026-10", "2026-11"]),
        ("2026-09..2026-10", _utc(2026, 9, 1), _utc(2026, 11, 1), ["2026-09", "2026-10"]),
    ],
)
def test_periods(text: str, start: dt.datetime, end: dt.datetime, months: list[str]) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.months, period.last_month) == (start, end, months, months[-1])


@pytest.mark.parametrize("text", ["2026-13", "2026Q5", "Nov 2026", "2026-11-31..2026-12-01", "2026-12..2026-11"])
def test_bad_periods_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_a_closed_month_takes_no_row_the_first_open_one_does() -> None:
    assert next_month("2026-12") == "2027-01"
    assert placed("2026-10", None) == ("2026-10", None)
    assert placed("2026-12", "2026-10") == ("2026-12", None)
    assert placed("2026-10", "2026-10") == ("2026-11", "2026-10")
    assert placed("2026-03", "2026-10") == ("2026-11", "2026-03")
