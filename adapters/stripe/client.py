"""Stripe REST API client, pinned to one API version, with the sub-lists Stripe only embeds in part.

Lists are `{"object": "list", "data": [...], "has_more": bool}`, newest first, paged by
`starting_after=<id>`, filtered by `created[gte]`/`created[lt]` (epoch seconds). An invoice
embeds its first 10 lines and a subscription its first items; the rest come from sub-lists.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from adapters.http import CursorPaginator, HttpClient, Page, RequestCounter, UpstreamError, paginate
from adapters.http.limits import Rates, shared_limiter
from adapters.stripe.streams import EVENTS_PATH, STREAMS, StripeStream
from connector.config import Settings

API_NAME = "Stripe"

# Extra filters a list needs to return everything, by endpoint (declared with each stream).
LIST_DEFAULTS: dict[str, Mapping[str, Any]] = {s.path: s.list_filters for s in STREAMS if s.list_filters}


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_epoch_s(when: dt.datetime) -> int:
    return (when - _EPOCH) // dt.timedelta(seconds=1)


def _extract(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UpstreamError("Stripe list response without data")
    return body["data"], bool(body.get("has_more"))


class StripeClient:
    """Lists, first pages and sub-lists of the streams, and the event log since a time."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        st = settings.stripe
        rates = Rates(st.rate_per_second(), st.requests_per_second_per_endpoint)
        self.settings = settings
        self.page_size = st.page_size
        self.http = HttpClient(
            api_name=API_NAME,
            base_url=st.base_url,
            settings=settings.http,
            headers={
                "Authorization": f"Bearer {st.api_key.get_secret_value()}",
                "Stripe-Version": st.api_version,
                "Accept": "application/json",
            },
            client=http,
            limiter=shared_limiter(API_NAME, st.base_url, rates),
        )

    def close(self) -> None:
        self.http.close()

    def iter_list(
        self, resource: str, params: dict[str, Any] | None = None, *, counter: RequestCounter | None = None
    ) -> Iterator[Page]:
        """Pages of `resource` (an endpoint under /v1), newest first; `starting_after` resumes."""
        query: dict[str, Any] = {"limit": self.page_size, **LIST_DEFAULTS.get(resource, {}), **(params or {})}
        yield from paginate(
            self.http, f"/{resource}", query, extract=_extract, paginator=CursorPaginator(), counter=counter
        )

    def list_page(
        self, resource: str, params: dict[str, Any] | None = None, *, counter: RequestCounter | None = None
    ) -> tuple[Page, bool]:
        """The first page of `resource` and whether there is more."""
        query: dict[str, Any] = {"limit": self.page_size, **LIST_DEFAULTS.get(resource, {}), **(params or {})}
        query = {k: v for k, v in query.items() if v is not None}
        body, clean = self.http.get_json_checked(f"/{resource}", params=query, counter=counter)
        items, has_more = _extract(body)
        return Page(items, clean), has_more

    def list_by_ids(
        self, resource: str, ids: Sequence[str], *, counter: RequestCounter | None = None
    ) -> dict[str, dict[str, Any]]:
        """The objects of `ids` that exist, by id, through the list's `ids[]` filter, `page_size`
        ids a request. Stripe refuses `ids` with `starting_after`, so each request asks for no more
        ids than fit one page; an id absent from the answer no longer exists."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), self.page_size):
            chunk = ids[start : start + self.page_size]
            params: dict[str, Any] = {f"ids[{n}]": object_id for n, object_id in enumerate(chunk)}
            page, has_more = self.list_page(resource, params, counter=counter)
            if has_more:  # more objects than ids asked for: the filter was not applied
                raise UpstreamError(f"Stripe GET /{resource} with ids[]: more than the {len(chunk)} ids asked for")
            found.update((str(o.get("id")), o) for o in page if isinstance(o, dict))
        return found

    def retrieve(self, resource: str, object_id: str, *, counter: RequestCounter | None = None) -> dict[str, Any]:
        body = self.http.request_json("GET", f"/{resource}/{object_id}", counter=counter)
        if not isinstance(body, dict):
            raise UpstreamError(f"Stripe GET /{resource}/{object_id}: not an object")
        return body

    def _rest_of(
        self, embedded: Any, path: str, params: dict[str, Any], counter: RequestCounter | None
    ) -> list[dict[str, Any]] | None:
        """All items of an embedded list object, fetching what it did not embed; None if not a list."""
        if isinstance(embedded, list):
            return list(embedded)
        if not isinstance(embedded, dict) or not isinstance(embedded.get("data"), list):
            return None
        items = list(embedded["data"])
        if embedded.get("has_more") and items:
            query = {"limit": self.page_size, **params, "starting_after": items[-1]["id"]}
            for page in paginate(
                self.http, path, query, extract=_extract, paginator=CursorPaginator(), counter=counter
            ):
                items.extend(page)
        return items

    def complete_invoice(self, invoice: dict[str, Any], *, counter: RequestCounter | None = None) -> dict[str, Any]:
        """The invoice with every line in `lines.data` (Stripe embeds only the first 10)."""
        lines = invoice.get("lines")
        if isinstance(lines, dict) and lines.get("has_more") and invoice.get("id"):
            full = self._rest_of(lines, f"/invoices/{invoice['id']}/lines", {}, counter)
            invoice = copy.copy(invoice)
            invoice["lines"] = {**lines, "data": full, "has_more": False}
        return invoice

    def complete_subscription(
        self, subscription: dict[str, Any], *, counter: RequestCounter | None = None
    ) -> dict[str, Any]:
        items = subscription.get("items")
        if isinstance(items, dict) and items.get("has_more") and subscription.get("id"):
            full = self._rest_of(items, "/subscription_items", {"subscription": subscription["id"]}, counter)
            subscription = copy.copy(subscription)
            subscription["items"] = {**items, "data": full, "has_more": False}
        return subscription

    def complete(self, stream: StripeStream, page: Sequence[Any], *, counter: RequestCounter | None = None) -> Any:
        """`page` with what Stripe only embeds in part fetched (invoice lines past 10, subscription items).

        A page none of whose objects needed more is returned as it came (a `Page` stays known clean).
        """
        if stream.embedded == "invoice_lines":
            done = [self.complete_invoice(p, counter=counter) if isinstance(p, dict) else p for p in page]
        elif stream.embedded == "subscription_items":
            done = [self.complete_subscription(p, counter=counter) if isinstance(p, dict) else p for p in page]
        else:
            return page
        return page if all(a is b for a, b in zip(done, page, strict=True)) else done

    def newest_event(self, *, counter: RequestCounter | None = None) -> dict[str, Any] | None:
        body = self.http.request_json("GET", f"/{EVENTS_PATH}", params={"limit": 1}, counter=counter)
        items, _ = _extract(body)
        return items[0] if items else None

    def events_since(self, created_gte: int, *, counter: RequestCounter | None = None) -> list[dict[str, Any]]:
        """Every event created at or after `created_gte`, oldest first (the API lists newest first)."""
        pages = self.iter_list(EVENTS_PATH, {"created[gte]": created_gte}, counter=counter)
        events = [e for page in pages for e in page]
        events.reverse()
        return events
