"""Calendar arithmetic for periods and payable dates (all UTC, periods half-open)."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(at: dt.datetime, months: int) -> dt.datetime:
    """Same day-of-month `months` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def end_of_month_after(start: dt.datetime, months: int) -> dt.datetime:
    """The last day of the `months`-th calendar month after `start`'s month, at 00:00 UTC.

    "Payable at the end of the 3rd month" for a start on 15 Jan is 30 Apr: the entry
    becomes payable on a run whose as-of time is on or after 30 Apr 00:00 UTC.
    """
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.datetime(year, month, last, tzinfo=dt.UTC)


def at_midnight(at: dt.datetime) -> dt.datetime:
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)
