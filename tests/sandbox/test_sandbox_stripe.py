"""The official Stripe SDK reads the sandbox as it would read Stripe; objects carry every real key."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from sandbox_testkit import FIXTURES, STRIPE_KEY, stripe_client

from sandbox.server import SandboxServer

pytest.importorskip("stripe")


@pytest.fixture()
def client(server: SandboxServer) -> stripe.StripeClient:
    return stripe.StripeClient(STRIPE_KEY, base_addresses={"api": server.url + "/stripe"}, max_network_retries=0)


@pytest.mark.parametrize(
    ("service", "expected"),
    [("customers", 25), ("invoices", 30), ("credit_notes", 15), ("refunds", 15), ("disputes", 12),
     ("invoice_payments", 30), ("products", 12), ("prices", 12)],
)
def test_sdk_auto_paging_lists_everything(client: stripe.StripeClient, service: str, expected: int) -> None:
    listing = getattr(client.v1, service).list({"limit": 7})
    ids = [obj.id for obj in listing.auto_paging_iter()]
    assert len(ids) == expected
    assert len(set(ids)) == expected


def test_sdk_lists_newest_first_and_filters(client: stripe.StripeClient) -> None:
    invoices = list(client.v1.invoices.list({"limit": 100}).auto_paging_iter())
    created = [inv.created for inv in invoices]
    assert created == sorted(created, reverse=True)
    mine = list(client.v1.invoices.list({"customer": "cus_003", "limit": 100}).auto_paging_iter())
    assert {inv.customer for inv in mine} == {"cus_003"}
    assert len(mine) == 2  # in_003 and in_028
    window = client.v1.invoices.list({"created": {"gte": invoices[-1].created, "lte": invoices[-1].created}})
    assert [inv.id for inv in window.data] == [invoices[-1].id]


def test_sdk_subscriptions_exclude_canceled_by_default(client: stripe.StripeClient) -> None:
    default = [s.id for s in client.v1.subscriptions.list({"limit": 100}).auto_paging_iter()]
    everything = [s.id for s in client.v1.subscriptions.list({"limit": 100, "status": "all"}).auto_paging_iter()]
    assert "sub_000" not in default
    assert "sub_000" in everything and len(everything) == 12
    sub = client.v1.subscriptions.retrieve("sub_001")
    assert sub.items.data[0].price.id == "price_001"  # items embed the price object, as Stripe does
    assert sub.metadata["term_months"] == "12"  # metadata values are strings


def test_sdk_gets_all_invoice_lines_past_ten(client: stripe.StripeClient) -> None:
    invoice = client.v1.invoices.retrieve("in_000")
    assert len(invoice.lines.data) == 10
    assert invoice.lines.has_more is True
    lines = list(client.v1.invoices.line_items.list("in_000", {"limit": 4}).auto_paging_iter())
    assert [line.id for line in lines] == [f"il_000_{j:02d}" for j in range(25)]


def test_sdk_expand(client: stripe.StripeClient) -> None:
    page = client.v1.invoices.list({"limit": 3, "expand": ["data.customer"]})
    assert all(inv.customer.object == "customer" for inv in page.data)
    refund = client.v1.refunds.retrieve("re_001", {"expand": ["charge"]})
    assert refund.charge.id == "ch_001"
    assert refund.charge.amount_refunded == 540


def test_unknown_expand_and_params_are_400(server: SandboxServer) -> None:
    with stripe_client(server) as http:
        bad_expand = http.get("/invoices", params={"expand[]": "data.nope"})
        assert bad_expand.status_code == 400
        assert bad_expand.json()["error"]["type"] == "invalid_request_error"
        assert http.get("/invoices", params={"colour": "red"}).json()["error"]["code"] == "parameter_unknown"
        assert http.get("/invoices", params={"limit": 101}).status_code == 400
        assert http.get("/invoices", params={"limit": 0}).status_code == 400
        missing = http.get("/invoices/in_nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "resource_missing"


def _fixture(type_name: str) -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.skip(f"{FIXTURES} not present")
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources[type_name]


@pytest.mark.parametrize(
    ("type_name", "path"),
    [("invoice", "/invoices/in_001"), ("credit_note", "/credit_notes/cn_001"), ("refund", "/refunds/re_001"),
     ("dispute", "/disputes/dp_001"), ("customer", "/customers/cus_001"), ("subscription", "/subscriptions/sub_001"),
     ("price", "/prices/price_001"), ("product", "/products/prod_001"),
     ("invoice_payment", "/invoice_payments/inpay_001")],
)
def test_every_fixture_key_is_present(server: SandboxServer, type_name: str, path: str) -> None:
    with stripe_client(server) as http:
        served = http.get(path).json()
    missing = set(_fixture(type_name)) - set(served)
    assert not missing, f"{type_name} lacks {sorted(missing)}"
    assert served["object"] == type_name


def test_every_line_item_key_is_present(server: SandboxServer) -> None:
    with stripe_client(server) as http:
        embedded = http.get("/invoices/in_001").json()["lines"]["data"][0]
        paged = http.get("/invoices/in_000/lines", params={"limit": 2}).json()["data"][0]
        note_line = http.get("/credit_notes/cn_001").json()["lines"]["data"][0]
    for line in (embedded, paged):
        assert not set(_fixture("line_item")) - set(line)
    assert not set(_fixture("credit_note_line_item")) - set(note_line)


def test_stripe_auth_and_version_header(server: SandboxServer) -> None:
    import httpx

    with httpx.Client(base_url=server.stripe_url) as http:
        assert http.get("/customers").status_code == 401
        bad = http.get("/customers", headers={"Authorization": "Bearer pk_live_nope"})
        assert bad.status_code == 401
        assert bad.json()["error"]["type"] == "invalid_request_error"
        ok = http.get("/customers", headers={"Authorization": f"Bearer {STRIPE_KEY}",
                                             "Stripe-Version": "2025-03-31.basil"})
        assert ok.status_code == 200 and ok.headers["stripe-version"] == "2025-03-31.basil"
        old = http.get("/customers", headers={"Authorization": f"Bearer {STRIPE_KEY}", "Stripe-Version": "2024-06-20"})
        assert old.status_code == 400


def test_only_the_configured_stripe_key(world: dict[str, Any]) -> None:
    import httpx

    with SandboxServer(world, stripe_key="sk_test_only") as srv, httpx.Client(base_url=srv.stripe_url) as http:
        assert http.get("/customers", headers={"Authorization": f"Bearer {STRIPE_KEY}"}).status_code == 401
        assert http.get("/customers", headers={"Authorization": "Bearer sk_test_only"}).status_code == 200


def test_raw_paging_backwards_and_created_operators(server: SandboxServer) -> None:
    with stripe_client(server) as http:
        everything = http.get("/invoices", params={"limit": 100}).json()["data"]
        ids = [inv["id"] for inv in everything]
        back = http.get("/invoices", params={"limit": 4, "ending_before": ids[10]}).json()
        assert [inv["id"] for inv in back["data"]] == ids[6:10] and back["has_more"] is True
        pivot = everything[5]["created"]
        newer = http.get("/invoices", params={"limit": 100, "created[gt]": pivot}).json()["data"]
        assert [inv["id"] for inv in newer] == ids[:5]
        upto = http.get("/invoices", params={"limit": 100, "created[lte]": pivot}).json()["data"]
        assert [inv["id"] for inv in upto] == ids[5:]
        assert http.get("/invoices", params={"created[gte]": "soon"}).status_code == 400
        both = http.get("/invoices", params={"starting_after": ids[0], "ending_before": ids[3]})
        assert both.status_code == 400
        payments = http.get("/invoice_payments", params={"payment[payment_intent]": "pi_004"}).json()["data"]
        assert [p["invoice"] for p in payments] == ["in_004"]


def test_scenario_full_stripe_has_every_key(world: dict[str, Any]) -> None:
    from sandbox.scenario import load_scenario

    full = load_scenario(world).full_stripe("invoices")
    assert not set(_fixture("invoice")) - set(full[0])
    assert full[0]["amount_remaining"] == 0
