"""Client-side rate limits (issue 14, item 4): a token bucket per API and per endpoint, shared by
every client of the API in the process, blocking the calling thread; timed on a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pyrate_limiter.limiter as pyrate
import pytest
from pyrate_limiter.clocks import AbstractClock

import adapters.http
from adapters.http import HttpClient
from adapters.http.limits import BURST_SHARE, RateLimiter, Rates, endpoint_of, shared_limiter
from adapters.http.once import create_once
from adapters.partnerstack import PartnerStackClient
from adapters.stripe import StripeClient
from connector.config import HttpSettings, Settings
from sandbox.ratelimit import RateLimiter as SandboxRateLimiter
from sandbox.ratelimit import RateLimits as SandboxRateLimits
from sandbox.server import SandboxServer
from tests.run.conftest import CONSIO_EXAMPLE, make_settings


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


# ---------------------------------------------------------------- PartnerStack's 429 from the sandbox


class _ServerClock:
    """The sandbox limiter's clock, moved only by the connector's backoff sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []  # not money: seconds

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def limited_partnerstack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SandboxServer, _ServerClock, Settings]]:
    """The Consio sandbox answering PartnerStack's 429 envelope with `Retry-After: 1` over one
    request a second, and settings with no client-side limit, so the server's limit is what is hit."""
    clock = _ServerClock()
    monkeypatch.setattr(adapters.http, "sleep", clock.sleep)
    with SandboxServer(CONSIO_EXAMPLE) as srv:
        limits = SandboxRateLimits(global_rps=1)
        srv.state.set_rate_limits(limits)
        srv.state.limiter = SandboxRateLimiter(limits, clock)
        yield srv, clock, make_settings("sqlite://", srv, partnerstack={"requests_per_second": 0})


def test_a_partnerstack_read_answered_429_waits_its_retry_after(
    limited_partnerstack: tuple[SandboxServer, _ServerClock, Settings],
) -> None:
    srv, clock, settings = limited_partnerstack
    client = PartnerStackClient(settings)
    try:
        assert client.http.limiter is None
        partnerships = [p["key"] for page in client.iter_list("partnerships") for p in page]
        customers = [c["key"] for page in client.iter_list("customers") for c in page]
    finally:
        client.close()
    assert partnerships and customers == ["cust_acme"]
    assert clock.slept == [1.0]  # the sandbox's Retry-After, not the exponential backoff
    assert httpx.get(f"{srv.url}/_sandbox/stats").json()["rate_limited"]["partnerstack"] == 1


def test_a_reward_post_answered_429_is_looked_up_then_sent_once_after_retry_after(
    limited_partnerstack: tuple[SandboxServer, _ServerClock, Settings],
) -> None:
    """A 429 says nothing was created, but PartnerStack documents no idempotency: the push asks
    first (a GET, itself answered 429 and retried after its Retry-After), then posts again after
    the POST's Retry-After; one reward lands."""
    srv, clock, settings = limited_partnerstack
    client = PartnerStackClient(settings)
    marker = "[entry:e-429]"
    body = {"amount": 1234, "description": f"test {marker}", "target": {"key": "cust_acme", "type": "customer"}}
    try:
        client.iter_list("partnerships").__next__()  # the one token of this second
        answer = create_once(
            lambda: client.create_reward(body),
            lambda: next((r for r in client.list_rewards() if marker in str(r.get("description"))), None),
        )
    finally:
        client.close()
    assert answer["amount"] == 1234
    assert clock.slept == [1.0, 1.0]  # the lookup's Retry-After, then the POST's
    assert [r["amount"] for r in srv.rewards] == [1234]
    assert httpx.get(f"{srv.url}/_sandbox/stats").json()["rate_limited"]["partnerstack"] == 2
