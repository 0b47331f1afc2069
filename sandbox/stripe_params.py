"""Stripe's form-style query parameters (``created[gte]=1``, ``expand[0]=data.customer``).

Why: the official SDKs encode arrays as ``name[0]=…`` and hashes as ``name[key]=…``; the sandbox must
read them exactly as Stripe does to catch adapters that send something Stripe would not understand.
"""

from __future__ import annotations

import re
from typing import Any

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SUB = re.compile(r"\[([^\[\]]*)\]")


def parse_query(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Nested dict/list structure from raw query pairs."""
    out: dict[str, Any] = {}
    for raw_key, value in items:
        match = _KEY.match(raw_key)
        if match is None:
            out[raw_key] = value
            continue
        name, rest = match.group(1), match.group(2)
        subs = _SUB.findall(rest)
        if not subs:
            out[name] = value
            continue
        _put(out, name, subs, value)
    return out


def _is_index(sub: str) -> bool:
    return sub == "" or sub.isdigit()


def _put(container: dict[str, Any], name: str, subs: list[str], value: str) -> None:
    if _is_index(subs[0]) and len(subs) == 1:
        current = container.get(name)
        if not isinstance(current, list):
            current = [] if current is None else [current]
            container[name] = current
        current.append(value)
        return
    current_dict = container.get(name)
    if not isinstance(current_dict, dict):
        current_dict = {}
        container[name] = current_dict
    if subs[1:]:
        _put(current_dict, subs[0], subs[1:], value)
    else:
        current_dict[subs[0]] = value


def as_list(value: Any) -> list[str]:
    """A parameter that Stripe takes as an array; a lone string counts as one item."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [str(v) for _, v in sorted(value.items())]
    return [str(value)]
