"""Client-side rate limits (issue 14, item 4): a token bucket per API and per endpoint, shared by
every client of the API in the process, blocking the calling thread; timed on a fake clock."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pyrate_limiter.limiter as pyrate
import pytest
from pyrate_limiter.clocks import AbstractClock

from adapters.http import HttpClient
from adapters.http.limits import BURST_SHARE, RateLimiter, Rates, endpoint_of, shared_limiter
from adapters.partnerstack import PartnerStackClient
from adapters.stripe import StripeClient
from connector.config import HttpSettings, Settings


class FakeClock(AbstractClock):
    """Milliseconds that move only when the limiter sleeps."""

    def __init__(self) -> None:
        self.ms = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        return self.ms

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.ms += max(1, round(seconds * 1000))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(pyrate, "sleep", fake.sleep)
    return fake


def test_n_requests_under_r_per_second_take_at_least_n_minus_burst_over_r(clock: FakeClock) -> None:
    limiter = RateLimiter(Rates(25), clock=clock)
    burst = int(25 * BURST_SHARE)
    for _ in range(112):
        limiter.acquire("GET", "/invoices")
    assert clock.ms >= (112 - burst) / 25 * 1000
    assert clock.ms <= (112 - burst) / 25 * 1000 + 100  # and not much more: it runs at the limit


def test_each_endpoint_has_its_own_bucket_under_the_global_one(clock: FakeClock) -> None:
    limiter = RateLimiter(Rates(100, 10), clock=clock)
    for i in range(45):  # one endpoint for every id: 10/s
        limiter.acquire("GET", f"/invoices/in_{i}")
    one_endpoint = clock.ms
    assert one_endpoint >= (45 - 5) / 10 * 1000
    clock.ms = 0
    fresh = RateLimiter(Rates(100, 10), clock=clock)
    for i in range(45):  # nine endpoints, 5 each: only the global 100/s applies
        fresh.acquire("GET", f"/r{i % 9}")
    assert clock.ms < one_endpoint / 4
    assert endpoint_of("get", "/invoices/in_1/lines") == "GET /invoices/{id}/lines"
    assert endpoint_of("GET", "/subscription_items") == "GET /subscription_items"


def test_concurrent_threads_share_one_bucket(clock: FakeClock) -> None:
    limiter = RateLimiter(Rates(20), clock=clock)
    threads = [threading.Thread(target=lambda: [limiter.acquire("GET", "/x") for _ in range(30)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.acquired == 120
    assert clock.ms >= (120 - 10) / 20 * 1000 * 0.9  # sleeps of threads overlap in real time, not on the fake clock


def test_every_client_of_an_api_shares_its_limiter_and_defaults_follow_the_key() -> None:
    test_key = Settings(stripe={"api_key": "sk_test_1", "base_url": "http://x/v1"})
    live_key = Settings(stripe={"api_key": "rk_live_1", "base_url": "http://x/v1"})
    assert test_key.stripe.rate_per_second() == 25 and live_key.stripe.rate_per_second() == 90
    assert test_key.stripe.requests_per_second_per_endpoint == 25
    assert Settings(stripe={"api_key": "sk_live_1", "requests_per_second": 5}).stripe.rate_per_second() == 5
    a, b = StripeClient(test_key), StripeClient(test_key)
    assert a.http.limiter is not None and a.http.limiter is b.http.limiter
    assert StripeClient(live_key).http.limiter is not a.http.limiter
    ps = PartnerStackClient(test_key)
    assert ps.http.limiter is not None and ps.http.limiter.rates == Rates(10.0)
    assert PartnerStackClient(Settings(partnerstack={"requests_per_second": 0})).http.limiter is None
    assert shared_limiter("X", "http://x", Rates(0, 0)) is None


def test_the_client_waits_before_every_attempt_and_still_retries_a_429(clock: FakeClock) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(429, json={"error": {"code": "rate_limit", "message": "rate limit exceeded"}})
        return httpx.Response(200, json={"ok": True})

    limiter = RateLimiter(Rates(2), clock=clock)
    seen: list[Any] = []
    original = limiter.acquire

    def spy(method: str, path: str) -> None:
        seen.append((method, path))
        original(method, path)

    limiter.acquire = spy  # type: ignore[method-assign]
    http = HttpClient(api_name="T", base_url="http://t/v1", settings=HttpSettings(max_attempts=3,
                      backoff_initial_seconds=0), client=httpx.Client(transport=httpx.MockTransport(handler)),
                      limiter=limiter)
    assert http.request_json("GET", "/invoices/in_1") == {"ok": True}
    assert seen == [("GET", "/invoices/in_1"), ("GET", "/invoices/in_1")]  # the retry waited for a token too
    assert calls == ["/v1/invoices/in_1", "/v1/invoices/in_1"]
