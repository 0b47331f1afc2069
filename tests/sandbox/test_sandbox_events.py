"""Events of a loaded world (``*.created`` within 30 days) and events rendered pre-basil (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sandbox_testkit import DAY, stripe_client

from sandbox import STRIPE_API_VERSION
from sandbox.jsonutil import dumps
from sandbox.server import SandboxServer
from sandbox.state import State

NOW = 1_782_777_600  # 2026-06-30T00:00:00Z


def recent_world() -> dict[str, Any]:
    """Objects created before and within the 30 days before ``now``, with basil-only fields."""
    return {
        "name": "recent",
        "now": NOW,
        "stripe": {
            "products": [{"id": "prod_old", "name": "Old", "created": NOW - 400 * DAY},
                         {"id": "prod_new", "name": "New", "created": NOW - 2 * DAY}],
            "prices": [{"id": "price_new", "product": "prod_new", "currency": "usd", "unit_amount": 1000,
                        "type": "recurring", "recurring": {"interval": "month", "interval_count": 1},
                        "created": NOW - 2 * DAY}],
            "customers": [{"id": "cus_old", "created": NOW - 31 * DAY}, {"id": "cus_edge", "created": NOW - 30 * DAY},
                          {"id": "cus_new", "created": NOW - DAY}, {"id": "cus_future", "created": NOW + DAY}],
            "subscriptions": [{"id": "sub_new", "customer": "cus_new", "status": "active", "created": NOW - DAY,
                               "items": [{"id": "si_new", "price": "price_new", "quantity": 2,
                                          "current_period_start": NOW - DAY,
                                          "current_period_end": NOW + 29 * DAY}]}],
            "invoices": [{
                "id": "in_new", "customer": "cus_new", "currency": "usd", "status": "paid", "created": NOW - DAY,
                "subtotal": 2000, "total": 2160, "amount_due": 2160, "amount_paid": 2160,
                "total_taxes": [{"amount": 160, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
                                 "taxable_amount": 2000, "tax_rate_details": {"tax_rate": "txr_1"}}],
                "status_transitions": {"finalized_at": NOW - DAY, "paid_at": NOW - DAY},
                "parent": {"type": "subscription_details",
                           "subscription_details": {"subscription": "sub_new", "metadata": {}}},
                "lines": [{"id": "il_new", "amount": 2000, "currency": "usd", "quantity": 2,
                           "pricing": {"type": "price_details",
                                       "price_details": {"price": "price_new", "product": "prod_new"}},
                           "parent": {"type": "subscription_item_details",
                                      "subscription_item_details": {"subscription": "sub_new",
                                                                    "subscription_item": "si_new",
                                                                    "proration": False}},
                           "taxes": [{"amount": 160, "tax_behavior": "exclusive",
                                      "taxability_reason": "standard_rated", "taxable_amount": 2000}]}],
            }],
            "invoice_payments": [{"id": "inpay_new", "invoice": "in_new", "amount_paid": 2160, "currency": "usd",
                                  "status": "paid", "payment": {"type": "payment_intent",
                                                                "payment_intent": "pi_new"}}],
            "refunds": [{"id": "re_new", "payment_intent": "pi_new", "charge": "ch_new", "amount": 1080,
                         "currency": "usd", "status": "succeeded", "created": NOW - 3600}],
            "credit_notes": [{"id": "cn_new", "invoice": "in_new", "customer": "cus_new", "currency": "usd",
                              "amount": 1080, "total": 1080, "type": "post_payment", "created": NOW - 3600,
                              "post_payment_amount": 1080, "pre_payment_amount": 0,
                              "total_taxes": [{"amount": 80, "tax_behavior": "exclusive",
                                               "taxability_reason": "standard_rated", "taxable_amount": 1000}],
                              "refunds": [{"refund": "re_new", "amount_refunded": 1080}],
                              "lines": [{"id": "cnli_new", "amount": 1000, "type": "custom_line_item",
                                         "taxes": [{"amount": 80, "tax_behavior": "exclusive",
                                                    "taxability_reason": "standard_rated",
                                                    "taxable_amount": 1000}]}]}],
        },
    }


EXPECTED = [  # newest first; ties at one second: invoice after subscription after customer
    ("credit_note.created", "cn_new"), ("refund.created", "re_new"), ("invoice.created", "in_new"),
    ("customer.subscription.created", "sub_new"), ("customer.created", "cus_new"),
    ("price.created", "price_new"), ("product.created", "prod_new"), ("customer.created", "cus_edge"),
]


def _events(http: httpx.Client) -> list[dict[str, Any]]:
    return list(http.get("/events", params={"limit": 100}).json()["data"])


def test_loaded_world_has_created_events_within_retention() -> None:
    with SandboxServer(recent_world()) as srv, stripe_client(srv) as http:
        events = _events(http)
        assert [(e["type"], e["data"]["object"]["id"]) for e in events] == EXPECTED
        ids = [e["id"] for e in events]
        assert ids == [f"evt_sbx_{n:010d}" for n in range(len(EXPECTED), 0, -1)]  # ids grow with time
        assert [e["created"] for e in events] == sorted((e["created"] for e in events), reverse=True)
        for event in events:
            assert event["api_version"] == STRIPE_API_VERSION
            assert set(event) == {"id", "object", "api_version", "created", "data", "livemode",
                                  "pending_webhooks", "request", "type"}
            assert event["created"] == event["data"]["object"]["created"]
            # the event's object is the object as served, and a retrieved event is the listed one
            kind = {"customer": "customers", "product": "products", "price": "prices", "invoice": "invoices",
                    "subscription": "subscriptions", "credit_note": "credit_notes", "refund": "refunds"}
            obj = event["data"]["object"]
            assert obj == http.get(f"/{kind[obj['object']]}/{obj['id']}").json()
            assert http.get(f"/events/{event['id']}").json() == event
        assert [e["type"] for e in http.get("/events", params={"type": "customer.*"}).json()["data"]] == [
            "customer.subscription.created", "customer.created", "customer.created"]
        # later changes continue the same sequence
        srv.apply({"stripe": {"customers": [{"id": "cus_applied"}]}})
        newest = _events(http)[0]
        assert newest["id"] == f"evt_sbx_{len(EXPECTED) + 1:010d}" and newest["type"] == "customer.created"


def test_no_events_for_a_world_older_than_retention(world: dict[str, Any]) -> None:
    state = State(__import__("sandbox.scenario", fromlist=["load_scenario"]).load_scenario(world))
    assert len(state.stripe["events"]) == 0


def test_streamed_bench_world_gets_its_created_events() -> None:
    from bench.generate import EARLIEST_MS, NOW_S, stream
    from sandbox.loader import StreamLoader
    from sandbox.scenario import Scenario

    state = State(Scenario(now_ms=NOW_S * 1000))
    loader = StreamLoader(state, EARLIEST_MS)
    stream("XS", 1, loader.add)
    loader.finish({})
    cutoff = NOW_S - 30 * DAY
    expected = 0
    for name in ("products", "prices", "customers", "subscriptions", "invoices", "credit_notes", "refunds",
                 "disputes"):
        expected += sum(1 for e in state.stripe[name].entries() if isinstance(e.created, int)
                        and cutoff <= e.created <= NOW_S)
    events = state.stripe["events"].entries()
    assert expected > 0 and len(events) == expected
    # the assembled text is exactly what the renderer makes of the stored event
    for entry in events[:50]:
        assert entry.served() == dumps(state.render_stripe("event", entry.obj))
        assert json.loads(entry.served())["data"]["object"]["id"] == entry.obj["data"]["object"]["id"]


# ----- pre-basil events -----------------------------------------------------------------------------
def test_event_api_version_renders_events_pre_basil() -> None:
    with SandboxServer(recent_world(), event_api_version="2024-06-20") as srv, stripe_client(srv) as http:
        events = {e["type"]: e for e in _events(http)}
        assert {e["api_version"] for e in events.values()} == {"2024-06-20"}
        invoice = events["invoice.created"]["data"]["object"]
        assert "total_taxes" not in invoice and "parent" not in invoice and "payments" not in invoice
        assert invoice["total_tax_amounts"] == [{"amount": 160, "inclusive": False, "tax_rate": "txr_1",
                                                 "taxability_reason": "standard_rated", "taxable_amount": 2000}]
        assert invoice["tax"] == 160
        assert invoice["subscription"] == "sub_new" and invoice["subscription_details"] == {"metadata": {}}
        assert invoice["paid"] is True and invoice["paid_out_of_band"] is False
        assert invoice["payment_intent"] == "pi_new" and invoice["charge"] == "ch_new"
        line = invoice["lines"]["data"][0]
        assert "pricing" not in line and "parent" not in line and "taxes" not in line
        assert line["price"]["id"] == "price_new" and line["price"]["product"] == "prod_new"
        assert line["price"]["object"] == "price"
        assert line["type"] == "subscription" and line["subscription_item"] == "si_new"
        assert line["proration"] is False and line["tax_amounts"][0]["amount"] == 160
        assert line["amount_excluding_tax"] == 2000 and line["unit_amount_excluding_tax"] == "1000"
        note = events["credit_note.created"]["data"]["object"]
        assert note["refund"] == "re_new" and "refunds" not in note
        assert note["tax_amounts"][0]["amount"] == 80 and "total_taxes" not in note
        assert "post_payment_amount" not in note and "pre_payment_amount" not in note
        assert note["lines"]["data"][0]["tax_amounts"][0]["amount"] == 80
        sub = events["customer.subscription.created"]["data"]["object"]
        assert sub["current_period_start"] == NOW - DAY and sub["current_period_end"] == NOW + 29 * DAY
        assert "current_period_start" not in sub["items"]["data"][0]
        # a retrieved event is rendered the same way; objects fetched directly stay in the current shape
        assert http.get(f"/events/{events['invoice.created']['id']}").json() == events["invoice.created"]
        direct = http.get("/invoices/in_new").json()
        assert direct["total_taxes"][0]["type"] == "tax_rate_details" and "total_tax_amounts" not in direct
        assert http.get("/credit_notes/cn_new").json()["refunds"][0]["refund"] == "re_new"
        # a change: previous_attributes are named as the older version names them
        srv.apply({"stripe": {"invoices": [{"id": "in_new", "total_taxes": [
            {"amount": 100, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
             "taxable_amount": 2000}]}]}})
        updated = http.get("/events", params={"type": "invoice.updated"}).json()["data"][0]
        assert updated["api_version"] == "2024-06-20"
        previous = updated["data"]["previous_attributes"]
        assert previous["total_tax_amounts"][0]["amount"] == 160 and previous["tax"] == 160
        assert "total_taxes" not in previous
        assert updated["data"]["object"]["total_tax_amounts"][0]["amount"] == 100


def test_default_event_version_is_the_pinned_one(fresh_server: SandboxServer) -> None:
    fresh_server.apply({"stripe": {"customers": [{"id": "cus_v"}]}})
    with stripe_client(fresh_server) as http:
        assert _events(http)[0]["api_version"] == STRIPE_API_VERSION
        info = httpx.get(fresh_server.url + "/_sandbox/state").json()
        assert info["event_api_version"] == STRIPE_API_VERSION


def test_bad_event_api_version_is_refused(world: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="event-api-version"):
        SandboxServer(world, event_api_version="last tuesday")
