"""JSON in and out of the sandbox, without losing decimal amounts.

Why: scenarios are read with ``parse_float=Decimal`` so that ``12.50`` stays exactly ``12.50``; the
stdlib encoder cannot write a ``Decimal`` as a bare number, so it is first written as a marker string
and the marker is replaced by the number's text afterwards. ``ensure_ascii`` stays on so deliberately
odd strings (lone surrogates in a malformed scenario) still produce valid UTF-8 on the wire.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_MARK = "\x00DEC:"
_MARK_RE = re.compile(r'"\\u0000DEC:([^"\\]*)\\u0000"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value}\x00"
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _unmark(text: str) -> str:
    if "\\u0000DEC:" not in text:
        return text
    return _MARK_RE.sub(lambda m: _number_text(m.group(1)), text)


def _number_text(text: str) -> str:
    """Decimal text as a JSON number; NaN/Infinity are written the way ``json`` writes floats."""
    low = text.lower()
    if "nan" in low:
        return "NaN"
    if "inf" in low:
        return "-Infinity" if text.startswith("-") else "Infinity"
    return text


_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON text; ``Decimal`` values come out as JSON numbers."""
    return _unmark(_ENCODER.encode(value))


def dumps_bytes(value: Any) -> bytes:
    """``dumps`` encoded for a response body."""
    return dumps(value).encode("ascii")


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping fractional numbers as ``Decimal``, as scenarios are read."""
    return json.loads(text, parse_float=Decimal)
