"""The outcome → action table, in the spirit of Airbyte's error handlers, without their framework.

Every response status or transport error maps to one action; the client only executes it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from enum import Enum

import httpx


class Action(Enum):
    OK = "ok"
    RETRY = "retry"
    FAIL_AUTH = "fail_auth"  # 401/403: stop the run at once with a clear message
    NOT_FOUND = "not_found"  # 404: the record or the run fails; never retried
    FAIL = "fail"  # other 4xx: the request itself is wrong; never retried


STATUS_ACTIONS: dict[int, Action] = {
    400: Action.FAIL,
    401: Action.FAIL_AUTH,
    403: Action.FAIL_AUTH,
    404: Action.NOT_FOUND,
    408: Action.RETRY,
    409: Action.RETRY,  # Stripe: idempotency key in use by a concurrent request
    425: Action.RETRY,
    429: Action.RETRY,
}

# Transport failures that say nothing about the request itself: the next attempt may pass.
RETRYABLE_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.TimeoutException,
    httpx.RemoteProtocolError,
    httpx.PoolTimeout,
)


def action_for_status(status: int) -> Action:
    if status < 400:
        return Action.OK
    if status in STATUS_ACTIONS:
        return STATUS_ACTIONS[status]
    if status >= 500:
        return Action.RETRY
    return Action.FAIL


def retry_after_seconds(response: httpx.Response, cap: float) -> float | None:
    """`Retry-After` as seconds (delta or HTTP date), capped so a bad header cannot stall a run."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(seconds, cap))
