"""Turning one payload value into the column value its mapping type asks for.

Each mapping `type` (see `mappings/*.toml`) has one converter here; a value it cannot
take raises `RecordError` naming the column, which quarantines the record with that
reason. The generated row builders (`codegen`) accept the common shapes inline and hand
everything else to these, so both paths fail a record the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connector.mapping.errors import RecordError
from connector.mapping.paths import MISSING
from connector.money import is_currency

INT64_MAX = 2**63 - 1  # the widest integer column both databases store
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INT = re.compile(r"^[+-]?\d+$")
_LIST_ITEM_CAP = 255  # each string of a `str-list`

# value, column name, the column's length cap → column value
Converter = Callable[[Any, str, int], Any]


def as_int(value: Any, name: str) -> int:
    out = _to_int(value, name)
    if not -INT64_MAX - 1 <= out <= INT64_MAX:
        raise RecordError(f"{name}: {str(out)[:30]} is out of range for a 64-bit integer")
    return out


def _to_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise RecordError(f"{name}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INT.match(value.strip()):
        return int(value.strip())
    raise RecordError(f"{name}: expected an integer, got {value!r:.60}")


def as_str(value: Any, name: str, cap: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RecordError(f"{name}: expected a string, got {type(value).__name__}")
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(f"{name}: not valid UTF-8") from None
    if "\x00" in text:
        raise RecordError(f"{name}: contains a NUL character")
    if len(text) > cap:
        raise RecordError(f"{name}: {len(text)} characters, longer than {cap}")
    return text


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise RecordError(f"{name}: expected a boolean, got {value!r:.60}")


def as_datetime(value: Any, name: str, unit_ms: bool) -> dt.datetime:
    """An ISO-8601 string, or seconds / milliseconds since the epoch; years 1970–2200 only."""
    try:
        if isinstance(value, str) and not _INT.match(value.strip()):
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
        number = as_int(value, name)
        delta = dt.timedelta(milliseconds=number) if unit_ms else dt.timedelta(seconds=number)
        when = EPOCH + delta
    except (ValueError, OverflowError):  # RecordError included: the message names the date
        raise RecordError(f"{name}: bad date {value!r:.60}") from None
    if not 1970 <= when.year <= 2200:
        raise RecordError(f"{name}: date {when.isoformat()} out of range")
    return when


def as_date(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected a YYYY-MM-DD date, got {value!r:.60}")
    try:
        day = dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RecordError(f"{name}: bad date {value!r:.60}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def as_currency(value: Any, name: str) -> str:
    if not is_currency(value):
        raise RecordError(f"{name}: unknown currency {value!r:.20}")
    return str(value).strip().lower()


def _present(value: Any) -> list[Any]:
    """The elements of a list-valued path (a single value is a list of one), absent ones left out."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if v is not None and v is not MISSING]


def _sum_money(value: Any, name: str, cap: int) -> int:
    return sum(as_int(v, name) for v in _present(value))


def _str_list(value: Any, name: str, cap: int) -> list[str]:
    return [as_str(v, name, _LIST_ITEM_CAP) for v in _present(value)]


CONVERTERS: dict[str, Converter] = {
    "json": lambda value, name, cap: value,
    "str": as_str,
    "int": lambda value, name, cap: as_int(value, name),
    "int-money": lambda value, name, cap: as_int(value, name),
    "sum-money": _sum_money,
    "str-list": _str_list,
    "currency": lambda value, name, cap: as_currency(value, name),
    "bool": lambda value, name, cap: as_bool(value, name),
    "datetime-ms": lambda value, name, cap: as_datetime(value, name, unit_ms=True),
    "datetime-s": lambda value, name, cap: as_datetime(value, name, unit_ms=False),
    "date": lambda value, name, cap: as_date(value, name),
}


def convert_value(kind: str, value: Any, name: str, cap: int, minimum: int | None) -> Any:
    """`value` as column `name` of mapping type `kind`; `json` passes through unchecked (also by `minimum`)."""
    if kind == "json":
        return value
    converter = CONVERTERS.get(kind)
    if converter is None:  # pragma: no cover - validated at load
        raise RecordError(f"{name}: unknown type {kind}")
    out = converter(value, name, cap)
    if minimum is not None and isinstance(out, int) and out < minimum:
        raise RecordError(f"{name}: {out} is below {minimum}")
    return out
