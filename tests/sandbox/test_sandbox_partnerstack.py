"""PartnerStack v2 emulation: envelope, auth, paging both ways, filters, limits, idempotent rewards."""

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


def test_rewards_idempotency(fresh_server: SandboxServer) -> None:
    body = {"amount": 20000, "currency": "usd", "partner_key": "p001", "customer_key": "cust_001",
            "description": "commission in_001", "external_key": "entry-1"}
    with ps_client(fresh_server) as http:
        first = http.post("/rewards", json=body, headers={"Idempotency-Key": "entry-1"})
        assert first.status_code == 200
        reward = first.json()["data"]
        assert reward["key"].startswith("rwd_") and reward["partnership_key"] == "part_001"
        assert reward["external_key"] == "entry-1" and reward["amount"] == 20000
        again = http.post("/rewards", json=body, headers={"Idempotency-Key": "entry-1"})
        assert again.status_code == 200 and again.content == first.content
        conflict = http.post("/rewards", json={**body, "amount": 1}, headers={"Idempotency-Key": "entry-1"})
        assert conflict.status_code == 409 and conflict.json()["status"] == 409
        clawback = http.post("/rewards", json={**body, "amount": -500, "external_key": "entry-2"},
                             headers={"Idempotency-Key": "entry-2"})
        assert clawback.status_code == 200
        listed = http.get("/rewards").json()["data"]["items"]
        assert [r["external_key"] for r in listed[:2]] == ["entry-2", "entry-1"]
        assert http.get("/rewards", params={"external_key": "entry-1"}).json()["data"]["items"][0]["key"] == \
            reward["key"]
    assert len(fresh_server.rewards) == 2


@pytest.mark.parametrize(
    "body",
    [{"amount": "100", "partner_key": "p001"}, {"amount": 1.5, "partner_key": "p001"},
     {"amount": None, "partner_key": "p001"}, {"amount": 100, "partner_key": "nobody"}, ["not", "an", "object"]],
)
def test_rewards_validation(server: SandboxServer, body: Any) -> None:
    with ps_client(server) as http:
        answer = http.post("/rewards", json=body)
    assert answer.status_code == 400 and answer.json()["status"] == 400


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
