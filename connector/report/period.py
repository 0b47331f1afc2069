"""Which stretch of time a period report covers: a month, a quarter, or a range of dates.

Why: finance asks per month ("2026-11"), per quarter ("2026Q4") and now and then for an odd range
("2026-11-01..2026-11-15"); each is a half-open UTC interval [start, end) and the months it
touches, which is all the roll-forward needs (`connector.report.rollforward`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, with the label it was asked by."""

    label: str
    start: dt.datetime
    end: dt.datetime

    @property
    def last_month(self) -> str:
        """The month (YYYY-MM) of the period's last instant: no row of a later month counts in it."""
        return (self.end - dt.timedelta(microseconds=1)).strftime("%Y-%m")

    @property
    def months(self) -> list[str]:
        out, cursor = [], self.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while cursor < self.end:
            out.append(cursor.strftime("%Y-%m"))
            cursor = _month_start(cursor.year, cursor.month + 1)
        return out

    @property
    def is_month(self) -> bool:
        return bool(_MONTH.match(self.label))


def _month_start(year: int, month: int) -> dt.datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def month_period(period: str) -> Period:
    """The month YYYY-MM as a period (ValueError if it is not one)."""
    m = _MONTH.match(period)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"not a month: {period!r} (use YYYY-MM, e.g. 2026-11)")
    year, month = int(m.group(1)), int(m.group(2))
    return Period(period, _month_start(year, month), _month_start(year, month + 1))


def parse_period(text: str) -> Period:
    """`2026-11` (a month), `2026Q4` or `2026-Q4` (a quarter), `2026-10-15..2026-11-14` (dates, both
    inclusive) or `2026-10..2026-11` (months, both inclusive). ValueError names what was wrong."""
    text = text.strip()
    if _MONTH.match(text):
        return month_period(text)
    q = _QUARTER.match(text)
    if q is not None:
        year, quarter = int(q.group(1)), int(q.group(2))
        first = 3 * (quarter - 1) + 1
        return Period(f"{year}Q{quarter}", _month_start(year, first), _month_start(year, first + 3))
    if ".." in text:
        left, right = (part.strip() for part in text.split("..", 1))
        start = _bound(left, end=False)
        end = _bound(right, end=True)
        if end <= start:
            raise ValueError(f"empty period {text!r}: its end is not after its start")
        return Period(f"{left}..{right}", start, end)
    raise ValueError(f"not a period: {text!r} (use 2026-11, 2026Q4, or 2026-10-01..2026-11-30)")


def _bound(text: str, *, end: bool) -> dt.datetime:
    """A range's start (its first instant) or end (the instant after it: ranges are inclusive)."""
    if _MONTH.match(text):
        month = month_period(text)
        return month.end if end else month.start
    if _DAY.match(text):
        try:
            day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(f"not a date: {text!r}") from None
        return day + dt.timedelta(days=1) if end else day
    raise ValueError(f"not a date or month: {text!r} (use YYYY-MM-DD or YYYY-MM)")
