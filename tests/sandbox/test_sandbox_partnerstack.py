"""PartnerStack v2 emulation: envelope, auth, paging both ways, filters, limits, rewards as documented."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_testkit import PS_AUTH, ps_client

from sandbox.server import SandboxServer


def _walk(http: httpx.Client, resource: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": limit, **params, **({"starting_after": cursor} if cursor else {})}
        body = http.get(f"/{resource}", params=query).json()
        items += body["data"]["items"]
        if not body["data"]["has_more"]:
            return items
        cursor = body["data"]["items"][-1]["key"]


def test_envelope_and_defaults(server: SandboxServer) -> None:
    with ps_client(server) as http:
        body = http.get("/partnerships").json()
    assert body["status"] == 200 and isinstance(body["message"], str)
    assert set(body["data"]) == {"items", "has_more"}
    assert len(body["data"]["items"]) == 10 and body["data"]["has_more"] is True
    first = body["data"]["items"][0]
    assert first["created_at"] == first["updated_at"]
    assert isinstance(first["created_at"], int) and first["created_at"] > 10**12  # epoch ms


def test_auth_401(world: dict[str, Any], server: SandboxServer) -> None:
    with httpx.Client(base_url=server.partnerstack_url) as http:
        missing = http.get("/partnerships")
        assert missing.status_code == 401
        assert missing.json()["status"] == 401 and missing.json()["message"]
        assert http.get("/partnerships", auth=("pub", "")).status_code == 401
    with SandboxServer(world, partnerstack_keys="pub:secret") as srv, httpx.Client(base_url=srv.partnerstack_url) as h:
        assert h.get("/partnerships", auth=PS_AUTH).status_code == 401
        assert h.get("/partnerships", auth=("pub", "secret")).status_code == 200


def test_paging_forward_and_backward(server: SandboxServer) -> None:
    with ps_client(server) as http:
        forward = _walk(http, "partnerships", 7)
        keys = [p["key"] for p in forward]
        assert len(keys) == 25 and len(set(keys)) == 25
        created = [p["created_at"] for p in forward]
        assert created == sorted(created, reverse=True)
        back = http.get("/partnerships", params={"limit": 5, "ending_before": keys[12]}).json()["data"]
        assert [p["key"] for p in back["items"]] == keys[7:12]
        assert back["has_more"] is True
        start = http.get("/partnerships", params={"limit": 5, "ending_before": keys[3]}).json()["data"]
        assert [p["key"] for p in start["items"]] == keys[:3] and start["has_more"] is False


def test_min_max_created_and_limits(server: SandboxServer) -> None:
    with ps_client(server) as http:
        everything = _walk(http, "customers", 250)
        times = sorted(c["created_at"] for c in everything)
        low, high = times[5], times[9]
        window = _walk(http, "customers", 2, min_created=low, max_created=high)
        assert sorted(c["created_at"] for c in window) == times[5:10]
        assert http.get("/customers", params={"limit": 0}).status_code == 400
        too_big = http.get("/customers", params={"limit": 251})
        assert too_big.status_code == 400 and too_big.json()["status"] == 400
        assert http.get("/customers", params={"limit": 250}).status_code == 200
        assert http.get("/customers", params={"min_created": "yesterday"}).status_code == 400
        assert http.get("/customers", params={"starting_after": "cust_nope"}).status_code == 400
        one = http.get("/customers/cust_004").json()
        assert one["data"]["key"] == "cust_004" and one["status"] == 200
        assert http.get("/customers/cust_nope").status_code == 404


def _post(http: httpx.Client, body: Any, path: str = "/rewards") -> Any:
    answer = http.post(path, json=body, headers={"Idempotency-Key": "ignored"})
    return answer.status_code, answer.json()


def test_rewards_as_documented_and_idempotency_key_ignored(fresh_server: SandboxServer) -> None:
    body = {"amount": 20000, "description": "commission [entry:e1]", "target": {"key": "cust_001", "type": "customer"}}
    with ps_client(fresh_server) as http:
        status, first = _post(http, body)
        assert status == 200
        reward = first["data"]
        assert reward["key"].startswith("rwd_") and reward["amount"] == 20000 and reward["currency"] == "usd"
        assert reward["reward_status"] == "approved" and reward["description"] == "commission [entry:e1]"
        assert reward["customer"] == {"key": "cust_001", "email": None, "name": None, "external_key": "ck001"}
        assert reward["partnership"]["key"] == "part_001" and {"transaction", "invoice", "created_at"} <= set(reward)
        assert "external_key" not in reward and "metadata" not in reward
        status, again = _post(http, body)  # the same key again: PartnerStack documents no idempotency
        assert status == 200 and again["data"]["key"] != reward["key"]
        status, clawback = _post(http, {**body, "amount": -500, "target": {"key": "cust_002", "type": "customer"}})
        assert status == 200 and clawback["data"]["amount"] == -500
        by_customer = http.get("/rewards", params={"customer_key": "cust_001"}).json()["data"]["items"]
        assert [r["key"] for r in by_customer] == [again["data"]["key"], reward["key"]]
        by_own_key = http.get("/rewards", params={"customer_key": "ck002"}).json()["data"]["items"]
        assert [r["amount"] for r in by_own_key] == [-500]
        later = http.get("/rewards", params={"min_created": reward["created_at"] + 1}).json()["data"]["items"]
        assert later == []
    assert len(fresh_server.rewards) == 3


_TARGET = {"key": "cust_001", "type": "customer"}


@pytest.mark.parametrize(
    ("body", "why"),
    [({"amount": "100", "target": _TARGET}, "integer"), ({"amount": 1.5, "target": _TARGET}, "integer"),
     ({"amount": None, "target": _TARGET}, "integer"), ({"target": _TARGET}, "missing required field(s) amount"),
     ({"amount": 100}, "missing required field(s) target"),
     ({"amount": 100, "target": _TARGET, "currency": "usd"}, "unknown field(s) currency"),
     ({"amount": 100, "partner_key": "p001", "customer_key": "cust_001"}, "unknown field(s) customer_key"),
     ({"amount": 100, "target": {"key": "cust_nope", "type": "customer"}}, "cust_nope not found"),
     ({"amount": 100, "target": {"key": "cust_001", "type": "partner"}}, "target.type"),
     ({"amount": 100, "target": {"key": "cust_001"}}, "target: missing"),
     ({"amount": 100, "target": {"key": "trx_nope", "type": "transaction"}}, "trx_nope not found"),
     (["not", "an", "object"], "JSON object")],
)
def test_rewards_validation(server: SandboxServer, body: Any, why: str) -> None:
    with ps_client(server) as http:
        status, answer = _post(http, body)
    assert status == 400 and answer["status"] == 400 and why in answer["message"]


def test_deal_converts_into_a_customer_once(fresh_server: SandboxServer) -> None:
    fresh_server.apply({"partnerstack": {"deals": [
        {"key": "deal_1", "partner_key": "p001", "account_name": "Acme", "stage": "closed won",
         "created_at": "2026-01-05T00:00:00Z"}]}})
    with ps_client(fresh_server) as http:
        assert _post(http, {"email": "no-at-sign"}, "/deals/deal_1/convert")[0] == 400
        assert _post(http, {"email": "a@b.c", "extra": 1}, "/deals/deal_1/convert")[0] == 400
        assert _post(http, {"email": "a@b.c"}, "/deals/deal_nope/convert")[0] == 404
        status, answer = _post(http, {"email": "cfo@acme.example", "customer_key": "cus_ACME"},
                               "/deals/deal_1/convert")
        customer = answer["data"]
        assert status == 200 and customer["customer_key"] == "cus_ACME" and customer["partner_key"] == "p001"
        assert http.get("/customers/cus_ACME").json()["data"]["key"] == customer["key"]
        assert http.get("/deals/deal_1").json()["data"]["customer_key"] == customer["key"]
        again, refused = _post(http, {"email": "cfo@acme.example"}, "/deals/deal_1/convert")
        assert again == 400 and "already converted" in refused["message"]
        status, reward = _post(http, {"amount": 700, "target": {"key": customer["key"], "type": "customer"}})
        assert status == 200 and reward["data"]["partnership"]["key"] == "part_001"


def test_endless_and_repeat_cursor(fresh_server: SandboxServer) -> None:
    with ps_client(fresh_server) as http, httpx.Client(base_url=fresh_server.url) as admin:
        admin.post("/_sandbox/faults", json={"spec": None, "endless": ["partnerstack.leads"],
                                             "repeat_cursor": ["partnerstack.partnerships"]})
        last = http.get("/leads", params={"limit": 250}).json()["data"]
        assert last["has_more"] is True
        again = http.get("/leads", params={"limit": 250, "starting_after": last["items"][-1]["key"]}).json()["data"]
        assert again["has_more"] is True and again["items"] == last["items"][-250:]
        page = http.get("/partnerships", params={"limit": 5}).json()["data"]["items"]
        same = http.get("/partnerships", params={"limit": 5, "starting_after": page[-1]["key"]}).json()["data"]
        assert same["items"] == page
