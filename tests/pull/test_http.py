"""The HTTP layer's outcome table, Retry-After, Decimal JSON and loop guard (respx, no server)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

import adapters.http
from adapters.http import (
    AuthError,
    CursorPaginator,
    CursorRejected,
    HttpClient,
    Page,
    RecordNotFound,
    RetriesExhausted,
    UpstreamError,
    paginate,
)
from adapters.partnerstack import PartnerStackClient
from connector.config import HttpSettings, Settings

BASE = "https://api.test/v1"
PS = {"base_url": "https://ps.test/api/v2", "public_key": "pk", "secret_key": "sk"}


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    monkeypatch.setattr(adapters.http, "sleep", calls.append)
    return calls


def client(**http: object) -> HttpClient:
    return HttpClient(api_name="Test", base_url=BASE, settings=HttpSettings(**http))  # type: ignore[arg-type]


@respx.mock
def test_retries_429_honouring_retry_after_then_parses_decimals(slept: list[float]) -> None:
    route = respx.get(f"{BASE}/things").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
            httpx.Response(200, text='{"rate": 0.2, "amount": 108000}'),
        ]
    )
    c = client(backoff_initial_seconds=0.5, backoff_max_seconds=60)
    body = c.request_json("GET", "/things")
    assert body == {"rate": Decimal("0.2"), "amount": 108000}
    assert isinstance(body["rate"], Decimal)
    assert route.call_count == 3
    assert slept[0] == 7.0
    assert 0 <= slept[1] <= 60
    assert (c.counter.requests, c.counter.retries) == (3, 2)


@respx.mock
def test_retry_after_is_capped(slept: list[float]) -> None:
    respx.get(f"{BASE}/x").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200, json={})]
    )
    client(retry_after_max_seconds=30).request_json("GET", "/x")
    assert slept == [30.0]


@respx.mock
def test_truncated_body_and_dropped_connection_are_retried(slept: list[float]) -> None:
    route = respx.get(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(200, text='{"data": [1, 2'),
            httpx.RemoteProtocolError("peer closed connection"),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    assert client().request_json("GET", "/x") == {"ok": True}
    assert route.call_count == 4
    assert len(slept) == 3


@respx.mock
def test_auth_failure_is_not_retried_and_names_the_api(slept: list[float]) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(401, json={"message": "bad key"}))
    with pytest.raises(AuthError, match=r"^Test rejected the API keys \(401\)$"):
        client().request_json("GET", "/x")
    assert route.call_count == 1 and slept == []


@respx.mock
def test_partnerstack_auth_message(slept: list[float]) -> None:
    respx.get("https://ps.test/api/v2/groups").mock(return_value=httpx.Response(403))
    settings = Settings.model_validate({"partnerstack": PS})
    ps = PartnerStackClient(settings)
    with pytest.raises(AuthError, match=r"PartnerStack rejected the API keys \(403\)"):
        list(ps.iter_list("groups"))


@respx.mock
def test_400_and_404_are_not_retried(slept: list[float]) -> None:
    bad = respx.get(f"{BASE}/bad").mock(return_value=httpx.Response(400, json={"error": {"message": "no such param"}}))
    gone = respx.get(f"{BASE}/gone").mock(return_value=httpx.Response(404, json={}))
    with pytest.raises(UpstreamError, match="400 no such param"):
        client().request_json("GET", "/bad")
    with pytest.raises(RecordNotFound):
        client().request_json("GET", "/gone")
    assert bad.call_count == 1 and gone.call_count == 1 and slept == []


@respx.mock
def test_retries_exhausted_is_an_upstream_error(slept: list[float]) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(500))
    with pytest.raises(UpstreamError, match="gave up after 3 attempt"):
        client(max_attempts=3).request_json("GET", "/x")
    assert route.call_count == 3 and len(slept) == 2


@respx.mock
def test_post_is_retried_only_with_an_idempotency_key(slept: list[float]) -> None:
    route = respx.post(f"{BASE}/rewards").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"data": {"key": "rwd_1"}})]
    )
    with pytest.raises(UpstreamError, match="gave up after 1 attempt"):
        client().request_json("POST", "/rewards", json_body={"amount": 1})
    assert route.call_count == 1
    route.side_effect = [httpx.Response(502), httpx.Response(200, json={"data": {"key": "rwd_1"}})]
    body = client().request_json("POST", "/rewards", json_body={"amount": 1}, idempotency_key="k-1")
    assert body == {"data": {"key": "rwd_1"}}
    assert route.calls[-1].request.headers["Idempotency-Key"] == "k-1"


@respx.mock
def test_create_reward_returns_the_envelope_data(slept: list[float]) -> None:
    route = respx.post("https://ps.test/api/v2/rewards").mock(
        return_value=httpx.Response(200, json={"data": {"key": "rwd_9", "amount": 2000}, "status": 200})
    )
    settings = Settings.model_validate({"partnerstack": PS})
    reward = PartnerStackClient(settings).create_reward({"amount": 2000})
    assert reward == {"key": "rwd_9", "amount": 2000}
    request = route.calls[0].request
    assert "Idempotency-Key" not in request.headers  # PartnerStack documents none
    assert request.headers["Authorization"].startswith("Basic ")


@respx.mock
def test_a_reward_post_is_never_retried_by_the_http_layer(slept: list[float]) -> None:
    """PartnerStack documents no idempotency: a 502 after sending may have created the reward."""
    route = respx.post("https://ps.test/api/v2/rewards").mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json={"data": {"key": "rwd_1"}})]
    )
    settings = Settings.model_validate({"partnerstack": PS})
    with pytest.raises(RetriesExhausted):
        PartnerStackClient(settings).create_reward({"amount": 2000})
    assert route.call_count == 1


def _stripe_list(items: list[str], has_more: bool) -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "data": [{"id": i} for i in items], "has_more": has_more})


def _extract(body: dict) -> tuple[list[dict], bool]:  # type: ignore[type-arg]
    return body["data"], body["has_more"]


@respx.mock
def test_paging_follows_starting_after(slept: list[float]) -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[_stripe_list(["c", "b"], True), _stripe_list(["a"], False)]
    )
    pages = list(paginate(client(), "/items", {"limit": 2}, extract=_extract, paginator=CursorPaginator()))
    assert [[i["id"] for i in p] for p in pages] == [["c", "b"], ["a"]]
    assert route.calls[1].request.url.params["starting_after"] == "b"


@respx.mock
def test_loop_guard_trips_on_a_repeated_cursor(slept: list[float]) -> None:
    respx.get(f"{BASE}/items").mock(return_value=_stripe_list(["b"], True))
    with pytest.raises(UpstreamError, match="pagination loop"):
        list(paginate(client(), "/items", {}, extract=_extract, paginator=CursorPaginator()))


@respx.mock
def test_page_cap(slept: list[float]) -> None:
    respx.get(f"{BASE}/items").mock(
        side_effect=[_stripe_list(["c"], True), _stripe_list(["b"], True), _stripe_list(["a"], True)]
    )
    with pytest.raises(UpstreamError, match="page cap 2"):
        list(paginate(client(max_pages_per_stream=2), "/items", {}, extract=_extract, paginator=CursorPaginator()))


@respx.mock
def test_404_on_a_list_fails_the_run(slept: list[float]) -> None:
    respx.get(f"{BASE}/items").mock(return_value=httpx.Response(404))
    with pytest.raises(UpstreamError):
        list(paginate(client(), "/items", {}, extract=_extract, paginator=CursorPaginator()))


@respx.mock
def test_pages_say_whether_their_body_can_need_cleaning(slept: list[float]) -> None:
    respx.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(200, text='{"data": [{"id": "c", "name": "Ünïcode \\u00e9"}], "has_more": true}'),
            httpx.Response(200, text='{"data": [{"id": "b", "note": "lone \\udc00"}], "has_more": true}'),
            httpx.Response(200, text='{"data": [{"id": "a", "nul": "a\\u0000b"}], "has_more": true}'),
            httpx.Response(200, text='{"data": [{"id": "0", "' + "k" * 201 + '": 1}], "has_more": false}'),
        ]
    )
    pages = list(paginate(client(), "/items", {}, extract=_extract, paginator=CursorPaginator()))
    assert all(isinstance(p, Page) for p in pages)
    assert [p.clean for p in pages] == [True, False, False, False]
    assert pages[1][0]["note"] == "lone \udc00"  # parsed as sent: the writer cleans it


@respx.mock
def test_paging_backwards_follows_ending_before_and_a_rejected_cursor_is_told_apart(slept: list[float]) -> None:
    route = respx.get(f"{BASE}/items").mock(
        side_effect=[_stripe_list(["e", "d"], True), _stripe_list(["f"], False), httpx.Response(400)]
    )
    paginator = CursorPaginator(backwards=True)
    pages = list(paginate(client(), "/items", {"ending_before": "c"}, extract=_extract, paginator=paginator))
    assert [[i["id"] for i in p] for p in pages] == [["e", "d"], ["f"]]
    assert [c.request.url.params["ending_before"] for c in route.calls] == ["c", "e"]
    with pytest.raises(CursorRejected, match="ending_before=gone"):
        list(paginate(client(), "/items", {"ending_before": "gone"}, extract=_extract, paginator=CursorPaginator(
            backwards=True)))
