"""Time values as each API sends them: PartnerStack epoch milliseconds, Stripe epoch seconds.

Why: scenario authors write readable ISO-8601 strings or dates; the sandbox converts only values it
can parse and leaves anything else exactly as given, so malformed records reach the connector intact.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

UTC = dt.UTC


def parse_iso(value: str) -> dt.datetime | None:
    """A timezone-aware datetime for an ISO-8601 date or datetime string, else ``None``."""
    text = value.strip()
    if not text or not (text[0].isdigit() and len(text) >= 8):
        return None
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=UTC)
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_ms(value: Any) -> Any:
    """Epoch milliseconds for an ISO string / datetime / date; other values unchanged."""
    moment = _moment(value)
    return value if moment is None else int(moment.timestamp() * 1000)


def to_seconds(value: Any) -> Any:
    """Epoch seconds for an ISO string / datetime / date; other values unchanged."""
    moment = _moment(value)
    return value if moment is None else int(moment.timestamp())


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        return parse_iso(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=UTC)
    return None


def now_ms() -> int:
    """Wall-clock epoch milliseconds, used only when a scenario names no ``now``."""
    return int(time.time() * 1000)


def clock_ms(value: Any) -> int | None:
    """A scenario ``now`` (ISO string, epoch seconds or ms) as epoch milliseconds, else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        number = int(value)
        return number if number > 10**11 else number * 1000
    converted = to_ms(value)
    return converted if isinstance(converted, int) else None


def iso_from_ms(ms: int) -> str:
    """Readable UTC time for admin answers."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def is_number(value: Any) -> bool:
    """A real, finite number (not a bool) that can be compared and ordered."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, Decimal):
        return value.is_finite()
    return False
