"""PartnerStack records as the vendor API v2 sends them.

Why: scenarios are written by hand; the API serves every time field in epoch milliseconds and always
has ``updated_at``. Free-form sub-trees (``fields``, ``field_data``, ``meta``, ``metadata``) are
partner-entered data and are never rewritten, so a form answer that looks like a date stays a string.

Form answers are served as PartnerStack documents them (``shared/spec/partnerstack.md``): ``fields`` is
a list of field objects (``api_name``, ``field_key``, ``internal_name``, ``name``, ``type``, ``value``,
``options``). A scenario may write ``fields`` as a plain ``{api_name: value}`` object; it is expanded
here. The deprecated flat ``field_data`` object is served only when the sandbox is asked to
(``--legacy-field-data``: ``with_field_data``). A deal's ``close_date`` is a ``YYYY-MM-DD`` date and it
carries ``account_name``, as PartnerStack's SDK describes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .timeutil import UTC, parse_iso, to_ms
from .walk import convert_times

TYPES: tuple[str, ...] = ("groups", "partnerships", "customers", "leads", "deals", "transactions", "rewards")
FORM_TYPES = frozenset({"partnerships", "customers", "leads", "deals"})
_SKIP = frozenset({"fields", "field_data", "meta", "metadata", "form_data", "close_date"})
_EXTRA_TIME_KEYS = frozenset({"date"})


def is_time_key(key: str) -> bool:
    """PartnerStack names its time fields ``*_at`` (a deal's ``close_date`` is a date, see ``_deal``)."""
    return key.endswith("_at") or key in _EXTRA_TIME_KEYS


def normalize(record: Any, default_created_ms: int | None, kind: str | None = None) -> Any:
    """A PartnerStack record of list ``kind`` as the API serves it; non-dicts returned as given."""
    if not isinstance(record, dict):
        return record
    obj: dict[str, Any] = dict(convert_times(record, is_time_key, to_ms, _SKIP))
    if "created_at" not in obj and default_created_ms is not None:
        obj["created_at"] = default_created_ms
    if "updated_at" not in obj and "created_at" in obj:
        obj["updated_at"] = obj["created_at"]
    if kind in FORM_TYPES and isinstance(obj.get("fields"), dict):
        obj["fields"] = field_objects(obj["fields"])
    if kind == "deals":
        _deal(obj)
    return obj


def _deal(obj: dict[str, Any]) -> None:
    if "close_date" in obj:
        obj["close_date"] = as_date(obj["close_date"])
    if "account_name" not in obj and isinstance(obj.get("name"), str):
        obj["account_name"] = obj["name"]


def as_date(value: Any) -> Any:
    """``YYYY-MM-DD`` for an ISO date/datetime string or epoch milliseconds; anything else as given."""
    if isinstance(value, str):
        moment = parse_iso(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            moment = dt.datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            moment = None
    else:
        moment = None
    return value if moment is None else moment.astimezone(UTC).date().isoformat()


def field_objects(answers: dict[Any, Any]) -> list[dict[str, Any]]:
    """A scenario's ``{api_name: value}`` form answers as PartnerStack's list of field objects."""
    return [_field_object(str(name), value) for name, value in answers.items()]


def _field_object(api_name: str, value: Any) -> dict[str, Any]:
    return {
        "api_name": api_name,
        "field_key": api_name,
        "internal_name": api_name,
        "name": api_name.replace("_", " ").capitalize(),
        "options": [],
        "type": _field_type(value),
        "value": value,
    }


def _field_type(value: Any) -> str:
    if isinstance(value, bool):
        return "checkbox"
    if isinstance(value, int | float | Decimal):
        return "number"
    return "text" if value is None or isinstance(value, str) else "json"


def with_field_data(record: Any) -> Any:
    """``record`` with the deprecated flat ``field_data`` beside its ``fields`` list (legacy mode)."""
    if not isinstance(record, dict) or "field_data" in record or not isinstance(record.get("fields"), list):
        return record
    flat = {
        f["api_name"]: f.get("value")
        for f in record["fields"]
        if isinstance(f, dict) and isinstance(f.get("api_name"), str)
    }
    return {**record, "field_data": flat}
