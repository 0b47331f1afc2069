"""Rate limits (off by default): a token bucket per API, and one per endpoint of each API.

Why: a sync must survive the limits the real services enforce, and a benchmark must be able to say
how many requests it lost to them. Stripe documents a global limit per account (100 requests per
second live, 25 in a sandbox) and per-endpoint limits (25 per second unless stated), where every named
operation is its own endpoint (``GET /v1/invoices`` and ``GET /v1/invoices/{id}`` are two, and every id
counts against the same ``{id}`` one). Over a limit Stripe answers 429 with
``{"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Request rate limit
exceeded. …"}}`` and a ``Stripe-Rate-Limited-Reason`` header (``global-rate``, ``endpoint-rate``; Stripe
also names ``global-concurrency``, ``endpoint-concurrency`` and ``resource-specific``, which the sandbox
does not emulate). Stripe documents no ``Retry-After``, so none is sent. PartnerStack documents no
limits at all; the sandbox answers its 429 in PartnerStack's error envelope with a ``Retry-After``.

Buckets hold ``rate`` tokens (one second of burst) and refill continuously; a request takes one token
from the API's global bucket and one from its endpoint's bucket, or is refused without taking any.
The ``/_sandbox`` admin routes are never limited.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from . import STRIPE_API_VERSION
from .jsonutil import dumps_bytes

ADMIN_PREFIX = "/_sandbox"
STRIPE_PREFIX = "/stripe"
PARTNERSTACK_PREFIX = "/partnerstack/api/v2"
STRIPE_RATE_LIMIT_MESSAGE = ("Request rate limit exceeded. Learn more about rate limits here "
                             "https://stripe.com/docs/rate-limits.")
_STRIPE_LITERAL_SEGMENTS = frozenset({"lines"})
_request_ids = itertools.count(1)


@dataclass(frozen=True)
class RateLimits:
    """Requests per second: ``global_rps`` per API, ``endpoint_rps`` per endpoint; ``None`` = no limit."""

    global_rps: float | None = None
    endpoint_rps: float | None = None

    def __post_init__(self) -> None:
        for name in ("global_rps", "endpoint_rps"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"rate limit {name} must be a positive number of requests per second, not {value!r}")

    @property
    def enabled(self) -> bool:
        """Whether any limit is set."""
        return self.global_rps is not None or self.endpoint_rps is not None


class TokenBucket:
    """``rate`` tokens per second, holding at most ``rate`` (and at least one)."""

    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        """Add what accrued since the last call."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def ready(self) -> bool:
        """Whether a token is there to take."""
        return self.tokens >= 1.0

    def wait(self) -> float:
        """Seconds until the next token."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class RateLimiter:
    """The buckets of both APIs; ``check`` says which limit (if any) refuses a request."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._global: dict[str, TokenBucket] = {}
        self._endpoints: dict[tuple[str, str], TokenBucket] = {}

    def check(self, api: str, endpoint: str) -> tuple[str, float] | None:
        """``None`` when allowed (tokens taken), else (``"global"`` | ``"endpoint"``, seconds to wait)."""
        limits = self.limits
        if not limits.enabled:
            return None
        now = self.clock()
        with self._lock:
            buckets: list[tuple[str, TokenBucket]] = []
            if limits.global_rps is not None:
                bucket = self._global.get(api)
                if bucket is None:
                    bucket = self._global[api] = TokenBucket(limits.global_rps, now)
                buckets.append(("global", bucket))
            if limits.endpoint_rps is not None:
                key = (api, endpoint)
                bucket = self._endpoints.get(key)
                if bucket is None:
                    bucket = self._endpoints[key] = TokenBucket(limits.endpoint_rps, now)
                buckets.append(("endpoint", bucket))
            for kind, bucket in buckets:
                bucket.refill(now)
                if not bucket.ready():
                    return kind, bucket.wait()
            for _, bucket in buckets:
                bucket.tokens -= 1.0
        return None


def api_of(path: str) -> str | None:
    """``"stripe"`` / ``"partnerstack"`` for an API path, ``None`` for anything else."""
    if path.startswith(STRIPE_PREFIX + "/") or path == STRIPE_PREFIX:
        return "stripe"
    if path.startswith(PARTNERSTACK_PREFIX + "/") or path == PARTNERSTACK_PREFIX:
        return "partnerstack"
    return None


def endpoint_of(api: str, method: str, path: str) -> str:
    """The named operation a request calls: ``GET /v1/invoices/{id}`` for any invoice id."""
    if api == "stripe":
        parts = path[len(STRIPE_PREFIX):].strip("/").split("/")
        # /v1/<resource>[/<id>[/<literal>]]: the second segment after the version is an id
        named = [part if index < 2 or part in _STRIPE_LITERAL_SEGMENTS else "{id}" for index, part in enumerate(parts)]
        return f"{method} /" + "/".join(named)
    parts = path[len(PARTNERSTACK_PREFIX):].strip("/").split("/")
    named = [part if index < 1 else "{key}" for index, part in enumerate(parts)]
    return f"{method} /" + "/".join(named)


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def refusal(api: str, kind: str, wait: float) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Body and headers of the 429 for ``api`` refused by the ``kind`` limit."""
    if api == "stripe":
        body = dumps_bytes({"error": {
            "code": "rate_limit",
            "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
            "message": STRIPE_RATE_LIMIT_MESSAGE,
            "type": "invalid_request_error",
        }})
        headers = [(b"stripe-version", STRIPE_API_VERSION.encode()),
                   (b"request-id", f"req_sbx_rl_{next(_request_ids):012d}".encode()),
                   (b"stripe-rate-limited-reason", f"{kind}-rate".encode())]
        return body, headers
    body = dumps_bytes({"message": "Too Many Requests: rate limit exceeded", "status": 429})
    return body, [(b"retry-after", _retry_after(wait).encode())]


class RateLimitMiddleware:
    """Refuses API requests over the state's limits with each API's 429; counts requests and 429s."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        api = api_of(path) if scope["type"] == "http" else None
        if api is None:
            await self.app(scope, receive, send)
            return
        state = self.state
        refused = state.limiter.check(api, endpoint_of(api, scope.get("method", "GET"), path))
        with state.lock:
            state.api_requests[api] += 1
            if refused is not None:
                state.rate_limited[api] += 1
        if refused is None:
            await self.app(scope, receive, send)
            return
        body, headers = refusal(api, *refused)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
