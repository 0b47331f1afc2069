"""Small response helpers shared by the PartnerStack, Stripe and admin routes.

Why: list pages are assembled from per-object JSON text (often cached), so responses are built from
bytes rather than by re-serializing a whole page; every answer is ``application/json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .jsonutil import dumps_bytes


def json_bytes(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response from already-serialized bytes."""
    return Response(body, status_code=status, media_type="application/json", headers=dict(headers or {}))


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response from a Python value (``Decimal`` written as a number)."""
    return json_bytes(status, dumps_bytes(payload), headers)


def parse_int(text: str | None) -> int | None:
    """An integer query value, or ``None`` when absent; raises ``ValueError`` when malformed."""
    if text is None:
        return None
    value = text.strip()
    if not value or not value.lstrip("-").isdigit():
        raise ValueError(text)
    return int(value)
