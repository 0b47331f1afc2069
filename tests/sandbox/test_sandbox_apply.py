"""Change over time: apply bumps updated_at, emits Stripe events, events expire after 30 days."""

from __future__ import annotations

from typing import Any

import httpx
from sandbox_testkit import ps_client, stripe_client

from sandbox.server import SandboxServer


def test_apply_bumps_updated_at_and_min_updated(fresh_server: SandboxServer) -> None:
    before = fresh_server.state.now_ms
    with httpx.Client(base_url=fresh_server.url) as admin:
        result = admin.post("/_sandbox/apply", json={
            "partnerstack": {"partnerships": [{"key": "part_003", "fields": {"tax_form": "W-9"}}],
                             "leads": [{"key": "lead_new", "partner_key": "p001", "created_at": "2026-01-02"}]},
        }).json()
    assert result["now_ms"] == before + 1000
    with ps_client(fresh_server) as http:
        changed = http.get("/partnerships", params={"min_updated": before + 1}).json()["data"]["items"]
        assert [p["key"] for p in changed] == ["part_003"]
        assert changed[0]["updated_at"] == before + 1000 and changed[0]["created_at"] < before
        assert [(f["api_name"], f["value"]) for f in changed[0]["fields"]] == [("tax_form", "W-9")]
        assert changed[0]["email"] == "p3@partners.example"
        leads = http.get("/leads", params={"min_updated": before + 1}).json()["data"]["items"]
        assert [lead["key"] for lead in leads] == ["lead_new"]
    unchanged = fresh_server.apply({"partnerstack": {"partnerships": [{"key": "part_003"}]}})
    assert unchanged["changed"] == {}


def test_apply_emits_events_newest_first(fresh_server: SandboxServer) -> None:
    fresh_server.apply({"now": "2026-07-01T00:00:00Z", "stripe": {
        "customers": [{"id": "cus_new", "email": "new@example.com"}],
        "invoices": [{"id": "in_001", "status": "void"}],
        "refunds": [{"id": "re_new", "payment_intent": "pi_002", "charge": "ch_002", "amount": 100,
                     "currency": "usd", "status": "succeeded"}],
        "disputes": [{"id": "dp_001", "status": "lost"}],
    }})
    with stripe_client(fresh_server) as http:
        events = http.get("/events", params={"limit": 100}).json()["data"]
        types = [e["type"] for e in events]
        assert {"customer.created", "invoice.updated", "invoice.voided", "refund.created", "charge.refunded",
                "charge.dispute.updated", "charge.dispute.closed"} <= set(types)
        ids = [e["id"] for e in events]
        assert ids == sorted(ids, reverse=True)
        refunded = next(e for e in events if e["type"] == "charge.refunded")["data"]["object"]
        assert refunded["object"] == "charge" and refunded["payment_intent"] == "pi_002"
        assert [r["id"] for r in refunded["refunds"]["data"]] == ["re_new", "re_002"] or \
            {r["id"] for r in refunded["refunds"]["data"]} == {"re_new", "re_002"}
        updated = next(e for e in events if e["type"] == "invoice.updated")
        assert updated["data"]["previous_attributes"]["status"] == "paid"
        assert updated["data"]["object"]["status_transitions"]["voided_at"] == updated["created"]
        only = http.get("/events", params={"type": "invoice.*"}).json()["data"]
        assert {e["type"] for e in only} == {"invoice.updated", "invoice.voided"}
        invoice = http.get("/invoices/in_001").json()
        assert invoice["status"] == "void" and invoice["amount_remaining"] == 0


def test_event_retention_30_days(fresh_server: SandboxServer) -> None:
    fresh_server.apply({"now": "2026-07-01T00:00:00Z", "stripe": {"customers": [{"id": "cus_a"}]}})
    fresh_server.apply({"now": "2026-07-20T00:00:00Z", "stripe": {"customers": [{"id": "cus_b"}]}})
    with stripe_client(fresh_server) as http:
        assert len(http.get("/events").json()["data"]) == 2
        old_id = http.get("/events").json()["data"][-1]["id"]
        fresh_server.apply({"now": "2026-08-05T00:00:00Z"})
        recent = http.get("/events", params={"created[gte]": 0}).json()["data"]
        assert [e["data"]["object"]["id"] for e in recent] == ["cus_b"]
        assert http.get(f"/events/{old_id}").status_code == 404


def test_apply_amount_remaining_recomputed(fresh_server: SandboxServer) -> None:
    fresh_server.apply({"stripe": {"invoices": [{"id": "in_new", "customer": "cus_001", "status": "open",
                                                 "amount_due": 500, "amount_paid": 0}]}})
    fresh_server.apply({"stripe": {"invoices": [{"id": "in_new", "status": "paid", "amount_paid": 500}]}})
    with stripe_client(fresh_server) as http:
        invoice = http.get("/invoices/in_new").json()
        assert invoice["amount_remaining"] == 0
        assert invoice["status_transitions"]["paid_at"] is not None
        types = [e["type"] for e in http.get("/events", params={"limit": 100}).json()["data"]]
    assert types.count("invoice.paid") == 1 and "invoice.finalized" in types


def test_price_change_reaches_the_subscriptions_that_embed_it(fresh_server: SandboxServer) -> None:
    """A subscription's stored text embeds its prices; a price change must re-render it, not serve it stale."""
    def embedded_nicknames(http: httpx.Client) -> set[Any]:
        subs = http.get("/subscriptions", params={"status": "all", "limit": 100}).json()["data"]
        return {item["price"]["nickname"] for s in subs for item in s["items"]["data"]
                if item["price"]["id"] == "price_001"}

    with stripe_client(fresh_server) as http:
        assert embedded_nicknames(http) == {None}
        fresh_server.apply({"stripe": {"prices": [{"id": "price_001", "nickname": "renamed"}]}})
        assert embedded_nicknames(http) == {"renamed"}
        one = http.get("/subscriptions/sub_001").json()
        assert one["items"]["data"][0]["price"]["nickname"] == "renamed"
