"""Client-side rate limits: run at an API's limit, not into it.

One `RateLimiter` per API (per base URL and rates), shared by every client of that API in the
process (the pull's concurrent readers, the push): a token bucket for the whole API and one per
endpoint (`GET /invoices/{id}` is one endpoint for every id, as Stripe counts them). A request
takes a token from its endpoint's bucket, then from the API's; when one is empty the calling
thread blocks until it refills. 429s are still retried with backoff by the client (`policy`).

The buckets are pyrate-limiter's `TokenBucket` (GCRA) in memory, blocking and thread-safe; its
clock and `pyrate_limiter.limiter.sleep` are the two points a test replaces.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyrate_limiter import Duration, Limiter, Rate
from pyrate_limiter.abstracts.algorithm import TokenBucket
from pyrate_limiter.buckets.state_bucket import StateBucket
from pyrate_limiter.clocks import AbstractClock, MonotonicClock
from pyrate_limiter.limiter import SingleBucketFactory

# The client's bucket holds this share of a second of requests: the server's bucket (a second's
# worth at Stripe) keeps the rest as headroom for requests that arrive closer together than they
# left (network and scheduling jitter), so running at the rate does not run into 429s.
BURST_SHARE = 0.5


@dataclass(frozen=True)
class Rates:
    """Requests per second for the whole API and per endpoint; 0 or None = no limit."""

    per_second: float | None  # not money: requests a second
    per_endpoint: float | None = None  # not money

    @property
    def enabled(self) -> bool:
        return bool(self.per_second) or bool(self.per_endpoint)


def _bucket(per_second: float, clock: AbstractClock) -> Limiter:  # not money
    # Rate(limit, interval) in integer milliseconds: `per_second` may be fractional
    interval: int = int(Duration.SECOND)
    limit = per_second
    while limit != int(limit) and interval < 1_000_000:
        limit, interval = limit * 10, interval * 10
    burst = max(1, int(per_second * BURST_SHARE))
    rate = Rate(int(limit), interval, burst=burst)
    bucket = StateBucket([rate], TokenBucket(), clock=clock)
    return Limiter(SingleBucketFactory(bucket, schedule_leak=False), buffer_ms=0)


def endpoint_of(method: str, path: str) -> str:
    """`GET /invoices/{id}/lines` for any invoice id: every second segment names an object."""
    parts = [p for p in path.split("?", 1)[0].strip("/").split("/") if p]
    named = [p if i % 2 == 0 else "{id}" for i, p in enumerate(parts)]
    return f"{method.upper()} /" + "/".join(named)


class RateLimiter:
    """Blocks each request until the API's bucket and its endpoint's bucket both have a token."""

    def __init__(self, rates: Rates, clock: AbstractClock | None = None) -> None:
        self.rates = rates
        self._clock = clock or MonotonicClock()
        self._global = _bucket(rates.per_second, self._clock) if rates.per_second else None
        self._endpoints: dict[str, Limiter] = {}
        self._lock = threading.Lock()
        self.acquired = 0

    def _endpoint(self, endpoint: str) -> Limiter | None:
        if not self.rates.per_endpoint:
            return None
        with self._lock:
            limiter = self._endpoints.get(endpoint)
            if limiter is None:
                limiter = self._endpoints[endpoint] = _bucket(self.rates.per_endpoint, self._clock)
            return limiter

    def acquire(self, method: str, path: str) -> None:
        """Wait (this thread only) until the request may go."""
        endpoint = self._endpoint(endpoint_of(method, path))
        if endpoint is not None:
            endpoint.try_acquire(endpoint_of(method, path), blocking=True)
        if self._global is not None:
            self._global.try_acquire("api", blocking=True)
        with self._lock:
            self.acquired += 1


_SHARED: dict[tuple[str, str, Rates], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_limiter(api_name: str, base_url: str, rates: Rates) -> RateLimiter | None:
    """The process's limiter of this API (same name, base URL and rates): every client shares it."""
    if not rates.enabled:
        return None
    key = (api_name, base_url.rstrip("/"), rates)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = RateLimiter(rates)
        return limiter


__all__ = ["BURST_SHARE", "RateLimiter", "Rates", "endpoint_of", "shared_limiter"]
