"""PartnerStack vendor API v2 client: Basic auth (public:secret), newest-first lists in an envelope.

List bodies look like `{"data": {"items": [...], "has_more": bool}, "message": ..., "status": 200}`;
objects page by `starting_after=<key>`; time filters and fields are epoch milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx

from adapters.http import (
    CursorPaginator,
    HttpClient,
    Page,
    RecordNotFound,
    RequestCounter,
    UpstreamError,
    paginate,
)
from adapters.http.limits import Rates, shared_limiter
from connector.config import Settings

API_NAME = "PartnerStack"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_epoch_ms(when: dt.datetime) -> int:
    """Exact integer milliseconds (no float round trip)."""
    return (when - _EPOCH) // dt.timedelta(milliseconds=1)


def _extract(body: Any) -> tuple[list[dict[str, Any]], bool]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise UpstreamError("PartnerStack list response without data.items")
    return data["items"], bool(data.get("has_more"))


class PartnerStackClient:
    """Reads (`iter_list`, `iter_newer`) for the pull; rewards, customers and deal conversion for the push."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        ps = settings.partnerstack
        self.settings = settings
        self.page_size = ps.page_size
        self.http = HttpClient(
            api_name=API_NAME,
            base_url=ps.base_url,
            settings=settings.http,
            headers={"Accept": "application/json"},
            auth=(ps.public_key.get_secret_value(), ps.secret_key.get_secret_value()),
            client=http,
            limiter=shared_limiter(API_NAME, ps.base_url, Rates(ps.requests_per_second)),
        )

    def close(self) -> None:
        self.http.close()

    def iter_list(
        self, resource: str, params: dict[str, Any] | None = None, *, counter: RequestCounter | None = None
    ) -> Iterator[Page]:
        """Pages of `resource`, newest first; `params` may carry `starting_after` to resume."""
        query: dict[str, Any] = {"limit": self.page_size, **(params or {})}
        yield from paginate(
            self.http,
            f"/{resource}",
            query,
            extract=_extract,
            paginator=CursorPaginator(id_field="key"),
            counter=counter,
        )

    def iter_newer(
        self, resource: str, ending_before: str, *, counter: RequestCounter | None = None
    ) -> Iterator[Page]:
        """Pages of `resource` newer than the item keyed `ending_before`, the nearest page first.

        Cost is proportional to what is new, whatever the created times (a list filtered by
        `min_created` re-reads every item created in the same millisecond as the boundary).
        """
        query: dict[str, Any] = {"limit": self.page_size, "ending_before": ending_before}
        yield from paginate(
            self.http,
            f"/{resource}",
            query,
            extract=_extract,
            paginator=CursorPaginator(id_field="key", backwards=True),
            counter=counter,
        )

    def list_rewards(
        self, min_created: dt.datetime | None = None, customer_key: str | None = None
    ) -> list[dict[str, Any]]:
        """Rewards created since `min_created`, of one customer when `customer_key` is given."""
        params: dict[str, Any] = {"min_created": to_epoch_ms(min_created)} if min_created is not None else {}
        if customer_key is not None:
            params["customer_key"] = customer_key
        return [item for page in self.iter_list("rewards", params) for item in page]

    def create_reward(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /rewards, sent once: PartnerStack documents no idempotency, so the HTTP layer never
        retries it (the push asks the platform what landed before sending again)."""
        return self._create("/rewards", payload)

    def find_customer(self, customer_key: str) -> dict[str, Any] | None:
        """GET /customers/{customer_key}; None when PartnerStack has no such customer."""
        try:
            body = self.http.request_json("GET", f"/customers/{customer_key}")
        except RecordNotFound:
            return None
        return _data(body, f"GET /customers/{customer_key}")

    def convert_deal(self, deal_key: str, email: str, customer_key: str) -> dict[str, Any]:
        """POST /deals/{key}/convert: the deal becomes a customer (sent once, like a reward)."""
        return self._create(f"/deals/{deal_key}/convert", {"email": email, "customer_key": customer_key})

    def _create(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return _data(self.http.request_json("POST", path, json_body=payload), f"POST {path}")


def _data(body: Any, what: str) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise UpstreamError(f"PartnerStack {what}: response without a data object")
    return data
