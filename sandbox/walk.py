"""Copy-on-write tree rewriting shared by the PartnerStack and Stripe normalizers.

Why: a scenario can hold a million invoices; copying every nested dict to convert a handful of time
fields would double load time and memory. Only containers on the path to a changed value are copied,
so the caller's objects are never mutated and unchanged sub-trees are shared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def convert_times(
    value: Any,
    is_time_key: Callable[[str], bool],
    convert: Callable[[Any], Any],
    skip: frozenset[str],
) -> Any:
    """Return ``value`` with every string under a time key converted; sub-trees under ``skip`` kept."""
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            if key in skip:
                continue
            if isinstance(key, str) and is_time_key(key) and isinstance(item, str):
                new = convert(item)
            elif isinstance(item, (dict, list)):
                new = convert_times(item, is_time_key, convert, skip)
            else:
                continue
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list):
        out: list[Any] | None = None
        for index, item in enumerate(value):
            if not isinstance(item, (dict, list)):
                continue
            new = convert_times(item, is_time_key, convert, skip)
            if new is not item:
                if out is None:
                    out = list(value)
                out[index] = new
        return value if out is None else out
    return value


def get_path(obj: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path of dicts, or ``None`` when any step is missing or not a dict."""
    for step in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj
