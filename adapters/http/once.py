"""Creating something on a platform that documents no idempotency, without ever creating it twice.

Why: PartnerStack takes no `Idempotency-Key`, so a POST whose answer was lost (timeout after
sending, dropped connection, 5xx, a cut body) may or may not have created its object, and sending it
again blindly may pay a partner twice. The HTTP layer therefore never retries such a POST
(`HttpClient` retries a POST only with an idempotency key); this loop does it instead, asking the
platform first (`landed`, a read, which the HTTP layer retries freely) whether the last attempt
created the object, and creating again only when the answer is no.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import adapters.http as http_layer
from adapters.http.errors import AuthError, ConnectorHttpError, RetriesExhausted
from adapters.http.policy import retry_after_seconds

T = TypeVar("T")

CREATE_ATTEMPTS = 8
_PAUSE_CAP = 30.0  # seconds; not money


def refused(exc: ConnectorHttpError) -> bool:
    """The platform turned the request down outright (a final 4xx): nothing was created."""
    status = exc.status_code
    return status is not None and 400 <= status < 500 and not isinstance(exc, RetriesExhausted)


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed create may still have created its object (to be asked about, not resent)."""
    return isinstance(exc, ConnectorHttpError) and not isinstance(exc, AuthError) and not refused(exc)


def _pause(exc: ConnectorHttpError, attempt: int) -> float:  # not money: seconds
    """How long to wait before creating again: the platform's `Retry-After`, else a short backoff."""
    asked = retry_after_seconds(exc.response, _PAUSE_CAP) if exc.response is not None else None
    return asked if asked is not None else min(0.05 * 2**attempt, 2.0)


def create_once(create: Callable[[], T], landed: Callable[[], T | None], attempts: int = CREATE_ATTEMPTS) -> T:
    """`create()`'s result; after an unknown outcome, `landed()`'s when the platform has it.

    A refusal, an auth failure or any other exception propagates at once; the last unknown
    outcome propagates after `attempts` creates, each preceded by a `landed()` that said no.
    """
    for attempt in range(attempts):
        try:
            return create()
        except ConnectorHttpError as exc:
            if not outcome_unknown(exc) or attempt == attempts - 1:
                raise
            found = landed()
            if found is not None:
                return found
            http_layer.sleep(_pause(exc, attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")
