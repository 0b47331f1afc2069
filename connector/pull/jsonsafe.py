"""`json_safe`: a payload every database's JSON column accepts."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from adapters.http.decode import INVALID_UTF8
from connector.mapping import RecordError

CAPPED_KEY = "_connector_capped"

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


@cache
def _needs_walk(max_field_chars: int) -> re.Pattern[str]:
    """What `stored_raw` must look at closely: `_UNSAFE_JSON`, undecodable bytes, a long string."""
    return re.compile(f'{_UNSAFE_JSON.pattern}|{INVALID_UTF8}|[^"]{{{max_field_chars + 1},}}')


def stored_raw(value: Any, max_field_chars: int) -> Any:
    """`value` as a raw payload may be stored: `json_safe`, each string cut to `max_field_chars`
    (the cut recorded under `CAPPED_KEY`: the cap and each cut field's original length).

    Raises `RecordError` when a string holds bytes that were not UTF-8 (see `adapters.http.decode`):
    storing them as U+FFFD, as before, would change the record without anyone knowing.
    """
    text = json.dumps(value, ensure_ascii=False, default=str)
    if _needs_walk(max_field_chars).search(text) is None and not (len(text) > max_field_chars and '\\"' in text):
        return value
    cut: dict[str, int] = {}
    out = _walk_capped(value, max_field_chars, "", cut)
    if cut and isinstance(out, dict):
        out[CAPPED_KEY] = {"max_field_chars": max_field_chars, "fields": cut}
    return out


def _walk_capped(value: Any, cap: int, path: str, cut: dict[str, int]) -> Any:
    if isinstance(value, str):
        if INVALID_UTF8 in value:
            raise RecordError(f"invalid UTF-8 in the response body at {path or 'the top level'}")
        clean = value.translate(_SURROGATES) if not value.isascii() or "\x00" in value else value
        if len(clean) > cap:
            cut[path] = len(clean)
            clean = clean[:cap]
        return clean
    if isinstance(value, dict):
        return {_json_safe_walk(str(k), cap=200): _walk_capped(v, cap, f"{path}.{k}" if path else str(k), cut)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk_capped(v, cap, f"{path}[{i}]", cut) for i, v in enumerate(value)]
    return value
