"""What this process has seen of each API: counts for `/metrics`, and which hosts ever answered.

Why process-wide: clients are made per run and per stream, while Prometheus wants counters that
only grow, and "has this host ever answered?" must outlive one client. `HttpClient` reports each
response and each retry here; the service's metrics read `OBSERVED.snapshot()` at scrape time.

First contact: a connect or DNS error from a host that has never answered in this process is a
wrong `base_url` or a host that is down, not a blip; retrying it 8 times only delays the one
clear error by a minute. `first_contact_failed` stops the retries then; a host that answered
before keeps the full retry table (an outage mid-run is worth waiting out).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

import httpx
from tenacity import RetryCallState
from tenacity.stop import stop_base

# Failures to open a connection at all (ConnectError covers refused and DNS failures).
FIRST_CONTACT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True)
class ApiTotals:
    requests: int  # responses received, any status
    retries: int
    throttled: int  # HTTP 429 responses


class _Observed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._answered: set[str] = set()

    def response(self, api: str, response: httpx.Response) -> None:
        with self._lock:
            self._answered.add(response.request.url.netloc.decode())
            self._counts[(api, "requests")] += 1
            if response.status_code == 429:
                self._counts[(api, "throttled")] += 1

    def retry(self, api: str) -> None:
        with self._lock:
            self._counts[(api, "retries")] += 1

    def has_answered(self, netloc: str) -> bool:
        with self._lock:
            return netloc in self._answered

    def snapshot(self) -> dict[str, ApiTotals]:
        with self._lock:
            counts = dict(self._counts)
        return {
            api: ApiTotals(counts.get((api, "requests"), 0), counts.get((api, "retries"), 0),
                           counts.get((api, "throttled"), 0))
            for api in sorted({api for api, _ in counts})
        }


OBSERVED = _Observed()


class _FirstContactFailed(stop_base):
    """A tenacity stop: the attempt could not connect to a host that never answered this process."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if not isinstance(exc, FIRST_CONTACT_ERRORS):
            return False
        try:
            netloc = exc.request.url.netloc.decode()
        except RuntimeError:  # no request attached: cannot tell, keep retrying
            return False
        return not OBSERVED.has_answered(netloc)


first_contact_failed = _FirstContactFailed()
