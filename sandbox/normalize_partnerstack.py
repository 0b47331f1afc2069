"""PartnerStack records as the vendor API v2 sends them.

Why: scenarios are written by hand; the API serves every time field in epoch milliseconds and always
has ``updated_at``. Free-form sub-trees (``fields``, ``meta``, ``metadata``) are partner-entered data
and are never rewritten, so a form answer that looks like a date stays a string.
"""

from __future__ import annotations

from typing import Any

from .timeutil import to_ms
from .walk import convert_times

TYPES: tuple[str, ...] = ("groups", "partnerships", "customers", "leads", "deals", "transactions", "rewards")
_SKIP = frozenset({"fields", "meta", "metadata", "form_data"})
_EXTRA_TIME_KEYS = frozenset({"close_date", "date"})


def is_time_key(key: str) -> bool:
    """PartnerStack names its time fields ``*_at`` (plus a deal's ``close_date``)."""
    return key.endswith("_at") or key in _EXTRA_TIME_KEYS


def normalize(record: Any, default_created_ms: int | None) -> Any:
    """A PartnerStack record with times in ms and ``updated_at`` present; non-dicts returned as given."""
    if not isinstance(record, dict):
        return record
    obj: dict[str, Any] = dict(convert_times(record, is_time_key, to_ms, _SKIP))
    if "created_at" not in obj and default_created_ms is not None:
        obj["created_at"] = default_created_ms
    if "updated_at" not in obj and "created_at" in obj:
        obj["updated_at"] = obj["created_at"]
    return obj
