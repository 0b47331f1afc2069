"""Rate limits (off by default): token buckets per API and per endpoint, each API's 429, counted in stats."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from sandbox_testkit import STRIPE_KEY, ps_client, stripe_client
from starlette.testclient import TestClient

from sandbox.app import create_app
from sandbox.ratelimit import RateLimiter, RateLimits, endpoint_of
from sandbox.scenario import load_scenario
from sandbox.server import SandboxServer
from sandbox.state import State

STRIPE_429 = {"error": {"code": "rate_limit", "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
                        "message": "Request rate limit exceeded. Learn more about rate limits here "
                                   "https://stripe.com/docs/rate-limits.",
                        "type": "invalid_request_error"}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limit(srv: SandboxServer, limits: RateLimits) -> FakeClock:
    clock = FakeClock()
    srv.state.set_rate_limits(limits)
    srv.state.limiter = RateLimiter(limits, clock)
    return clock


def test_off_by_default(fresh_server: SandboxServer) -> None:
    with stripe_client(fresh_server) as http:
        assert all(http.get("/customers").status_code == 200 for _ in range(30))
    stats = httpx.get(fresh_server.url + "/_sandbox/stats").json()
    assert stats["rate_limited"] == {"stripe": 0, "partnerstack": 0}
    assert stats["requests"]["stripe"] == 30


def test_global_limit_stripe_429_shape(fresh_server: SandboxServer) -> None:
    clock = _limit(fresh_server, RateLimits(global_rps=3))
    with stripe_client(fresh_server) as http:
        answers = [http.get(path) for path in ("/customers", "/invoices", "/refunds", "/disputes", "/customers")]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        refused = answers[3]
        assert refused.json() == STRIPE_429
        assert refused.headers["stripe-rate-limited-reason"] == "global-rate"
        assert refused.headers["content-type"] == "application/json"
        assert "retry-after" not in refused.headers  # Stripe documents none
        clock.now += 1 / 3  # one token back
        assert http.get("/customers").status_code == 200
        assert http.get("/customers").status_code == 429
    with httpx.Client(base_url=fresh_server.url) as admin:
        assert admin.get("/_sandbox/health").status_code == 200  # admin routes are never limited
        stats = admin.get("/_sandbox/stats").json()
    assert stats["rate_limited"] == {"stripe": 3, "partnerstack": 0}
    assert stats["requests"]["stripe"] == 7
    assert stats["rate_limited_share"]["stripe"] == pytest.approx(3 / 7)


def test_endpoint_limit_counts_every_id_against_one_endpoint(fresh_server: SandboxServer) -> None:
    _limit(fresh_server, RateLimits(endpoint_rps=2))
    with stripe_client(fresh_server) as http:
        assert [http.get(f"/invoices/in_00{i}").status_code for i in range(3)] == [200, 200, 429]
        refused = http.get("/invoices/in_009")
        assert refused.status_code == 429 and refused.headers["stripe-rate-limited-reason"] == "endpoint-rate"
        assert http.get("/invoices").status_code == 200  # another endpoint, another bucket
        assert http.get("/invoices/in_000/lines").status_code == 200
    with ps_client(fresh_server) as http:  # the other API has buckets of its own
        assert http.get("/partnerships").status_code == 200


def test_partnerstack_429_envelope(fresh_server: SandboxServer) -> None:
    _limit(fresh_server, RateLimits(global_rps=1))
    with ps_client(fresh_server) as http:
        assert http.get("/partnerships").status_code == 200
        refused = http.get("/customers")
        assert refused.status_code == 429
        assert refused.json() == {"message": "Too Many Requests: rate limit exceeded", "status": 429}
        assert refused.headers["retry-after"] == "1"
    with stripe_client(fresh_server) as http:
        assert http.get("/customers").status_code == 200
    stats = httpx.get(fresh_server.url + "/_sandbox/stats").json()
    assert stats["rate_limited"] == {"stripe": 0, "partnerstack": 1}


def test_sdk_sees_a_rate_limit_error(fresh_server: SandboxServer) -> None:
    _limit(fresh_server, RateLimits(global_rps=1))
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": fresh_server.url + "/stripe"},
                                 max_network_retries=0)
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError) as caught:
        client.v1.customers.list()
    assert caught.value.http_status == 429 and caught.value.json_body == STRIPE_429


def test_server_and_app_factory_take_the_limits(world: dict[str, Any]) -> None:
    with SandboxServer(world, rate_limit=50, rate_limit_endpoint=25) as srv:
        assert srv.state.rate_limits == RateLimits(50, 25)
        info = httpx.get(srv.url + "/_sandbox/state").json()
        assert info["rate_limits"] == {"global_rps": 50, "endpoint_rps": 25}
    state = State(load_scenario(world))
    app = create_app(state, RateLimits(endpoint_rps=1))
    with TestClient(app) as http:
        headers = {"Authorization": f"Bearer {STRIPE_KEY}"}
        assert http.get("/stripe/v1/customers", headers=headers).status_code == 200
        assert http.get("/stripe/v1/customers", headers=headers).status_code == 429
    with pytest.raises(ValueError):
        RateLimits(global_rps=0)


def test_token_bucket_refills_continuously_up_to_one_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(global_rps=4), clock)
    assert [limiter.check("stripe", "GET /v1/x") for _ in range(5)][-1] == ("global", pytest.approx(0.25))
    clock.now += 10  # refills to capacity (4), not to 40
    assert sum(limiter.check("stripe", "GET /v1/x") is None for _ in range(10)) == 4
    slow = RateLimiter(RateLimits(endpoint_rps=0.5), clock)  # below one per second: one request of burst
    assert slow.check("stripe", "a") is None and slow.check("stripe", "a") == ("endpoint", pytest.approx(2.0))


def test_endpoint_names() -> None:
    assert endpoint_of("stripe", "GET", "/stripe/v1/invoices") == "GET /v1/invoices"
    assert endpoint_of("stripe", "GET", "/stripe/v1/invoices/in_1") == "GET /v1/invoices/{id}"
    assert endpoint_of("stripe", "GET", "/stripe/v1/invoices/in_1/lines") == "GET /v1/invoices/{id}/lines"
    assert endpoint_of("partnerstack", "POST", "/partnerstack/api/v2/rewards") == "POST /rewards"
    assert endpoint_of("partnerstack", "GET", "/partnerstack/api/v2/customers/c_1") == "GET /customers/{key}"
