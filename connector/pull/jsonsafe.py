"""`json_safe`: a payload every database's JSON column accepts."""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATES: dict[int, str] = {c: "\ufffd" for c in range(0xD800, 0xE000)}
_SURROGATES[0] = "\ufffd"


# What a JSON column may refuse: a lone surrogate, a NUL (escaped by json.dumps), an over-long key.
_UNSAFE_JSON = re.compile(r'[\ud800-\udfff]|\\u0000|"[^"]{201,}":')


def json_safe(value: Any, *, cap: int | None = None) -> Any:
    """A payload every database's JSON accepts: no lone surrogates or NULs (optionally capped).

    Nearly every payload is already safe; one C-speed dump and a regex tell, so the
    Python walk that rebuilds it runs only for the few that are not.
    """
    if cap is None and isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
        if _UNSAFE_JSON.search(text) is None:
            return value
    return _json_safe_walk(value, cap=cap)


def _json_safe_walk(value: Any, *, cap: int | None) -> Any:
    if isinstance(value, str):
        clean = value.translate(_SURROGATES) if not value.isascii() or "\x00" in value else value
        return clean[:cap] if cap is not None else clean
    if isinstance(value, dict):
        return {_json_safe_walk(str(k), cap=200): _json_safe_walk(v, cap=cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe_walk(v, cap=cap) for v in value]
    return value
