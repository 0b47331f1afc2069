"""Injected faults: deterministic from a seed; each kind looks like the real failure to httpx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sandbox_testkit import ps_client, stripe_client

from sandbox.faults import FaultSpec
from sandbox.server import SandboxServer

SPEC = "429=0.2,5xx=0.1,truncate=0.1,slow=0.1,slow_seconds=0.01,seed=7,retry_after=2"


def _statuses(srv: SandboxServer, spec: str, n: int = 40) -> list[Any]:
    srv.set_faults(spec)
    out: list[Any] = []
    with stripe_client(srv) as http:
        for _ in range(n):
            answer = http.get("/customers", params={"limit": 3})
            try:
                answer.json()
                out.append(answer.status_code)
            except json.JSONDecodeError:
                out.append("truncated")
    return out


def test_spec_parse() -> None:
    spec = FaultSpec.parse("429=0.2,5xx=0.05,drop=0.02,truncate=0.01,slow=0.01,slow_seconds=0.2,seed=7,retry_after=1")
    assert spec is not None and spec.seed == 7 and spec.rates["5xx"] == 0.05 and spec.slow_seconds == 0.2
    assert FaultSpec.parse(spec.text()) == spec
    assert FaultSpec.parse("") is None and FaultSpec.parse(None) is None
    for bad in ("429=2", "bogus=0.1", "429", "429=0.6,5xx=0.6"):
        with pytest.raises(ValueError):
            FaultSpec.parse(bad)


def test_same_seed_same_sequence(fresh_server: SandboxServer) -> None:
    first = _statuses(fresh_server, SPEC)
    second = _statuses(fresh_server, SPEC)
    other = _statuses(fresh_server, SPEC.replace("seed=7", "seed=8"))
    assert first == second
    assert first != other
    assert {429, "truncated", 200} <= set(first)
    assert set(first) & {500, 502, 503}


def test_each_fault_kind_with_httpx(fresh_server: SandboxServer) -> None:
    with stripe_client(fresh_server) as http:
        fresh_server.set_faults("429=1,retry_after=3")
        limited = http.get("/customers")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
        assert limited.json()["error"]["code"] == "rate_limit"
        fresh_server.set_faults("5xx=1")
        assert http.get("/customers").status_code in (500, 502, 503)
        fresh_server.set_faults("truncate=1")
        cut = http.get("/customers")
        assert cut.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            cut.json()
        fresh_server.set_faults("drop=1")
        with pytest.raises(httpx.TransportError):
            http.get("/customers")
        fresh_server.set_faults("slow=1,slow_seconds=0.3")
        slow = http.get("/customers")
        assert slow.status_code == 200 and slow.elapsed.total_seconds() >= 0.25
        fresh_server.set_faults(None)
        assert http.get("/customers").status_code == 200
    with httpx.Client(base_url=fresh_server.url) as admin:
        fresh_server.set_faults("429=1")
        assert admin.get("/_sandbox/state").status_code == 200  # admin routes are never faulted
        stats = admin.get("/_sandbox/stats").json()
        assert stats["total"] >= 6 and stats["faults"]["drop"] == 1


def test_partnerstack_fault_shapes_and_post_ordering(fresh_server: SandboxServer) -> None:
    body = {"amount": 100, "description": "x", "target": {"key": "cust_001", "type": "customer"}}
    with ps_client(fresh_server) as http:
        fresh_server.set_faults("429=1")
        limited = http.post("/rewards", json=body)
        assert limited.status_code == 429 and limited.json() == {"message": "Too Many Requests", "status": 429}
        fresh_server.set_faults("5xx=1")
        assert http.post("/rewards", json=body).status_code >= 500
        assert fresh_server.rewards == []  # 429/5xx come before recording
        fresh_server.set_faults("drop=1")
        with pytest.raises(httpx.TransportError):
            http.post("/rewards", json=body)
        assert len(fresh_server.rewards) == 1  # a drop happens after recording: "sent, no answer"
        fresh_server.set_faults("commit-then-drop=1")
        assert http.get("/customers").status_code == 200  # a read passes: the fault hits writes only
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/rewards", json=body)
        assert len(fresh_server.rewards) == 2  # stored, then the connection closed without an answer
        fresh_server.set_faults(None)
        again = http.post("/rewards", json=body, headers={"Idempotency-Key": "k"})
        assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert len(fresh_server.rewards) == 3  # no idempotency: every POST that reached the handler is a reward


def test_admin_faults_endpoint_rejects_bad_spec(fresh_server: SandboxServer) -> None:
    with httpx.Client(base_url=fresh_server.url) as admin:
        assert admin.post("/_sandbox/faults", json={"spec": "429=7"}).status_code == 400
        ok = admin.post("/_sandbox/faults", json={"spec": "429=0.5,seed=3"})
        assert ok.status_code == 200 and ok.json()["faults"].startswith("429=0.5")
        admin.post("/_sandbox/faults", json={"spec": None})
        assert admin.get("/_sandbox/state").json()["faults"] is None
