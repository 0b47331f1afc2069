"""The two ceilings a sync cannot beat: fetching the pages, and inserting the rows.

Why: a benchmark number alone says nothing about whether the connector is slow; its ratio to the
cheapest possible way of doing the same I/O does. The fetch ceiling is a bare httpx loop that walks the
same list endpoints with the same page sizes against the same sandbox and throws the bodies away (it
parses only what it needs to find the next cursor). The insert ceiling is a bare SQLAlchemy Core
``executemany`` of the very rows the connector stored, into an empty copy of the schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, MetaData, Table, select
from tenacity import retry, retry_if_exception_type, stop_after_attempt

from connector.store.models import Base

# (stream name, path under the API base, page size): the list endpoints a full pull walks.
PARTNERSTACK_STREAMS: tuple[tuple[str, str, int], ...] = (
    ("partnerstack.groups", "groups", 250),
    ("partnerstack.partnerships", "partnerships", 250),
    ("partnerstack.customers", "customers", 250),
    ("partnerstack.leads", "leads", 250),
    ("partnerstack.deals", "deals", 250),
    ("partnerstack.transactions", "transactions", 250),
    ("partnerstack.rewards", "rewards", 250),
)
STRIPE_STREAMS: tuple[tuple[str, str, int], ...] = (
    ("stripe.products", "products", 100),
    ("stripe.prices", "prices", 100),
    ("stripe.customers", "customers", 100),
    ("stripe.subscriptions", "subscriptions", 100),
    ("stripe.invoices", "invoices", 100),
    ("stripe.credit_notes", "credit_notes", 100),
    ("stripe.refunds", "refunds", 100),
    ("stripe.disputes", "disputes", 100),
    ("stripe.invoice_payments", "invoice_payments", 100),
)
# Stripe lists some objects only with a status filter; ask for every status like a full pull does.
STRIPE_EXTRA_PARAMS: dict[str, dict[str, str]] = {"subscriptions": {"status": "all"}}
# Upstream mirror tables: what a pull writes (bookkeeping and ledger tables are not the pull's rows).
MIRROR_PREFIXES = ("ps_", "st_", "fin_")


@dataclass
class StreamFetch:
    pages: int = 0
    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    extra_pages: int = 0  # invoice line pages beyond the embedded first 10


@dataclass
class FetchResult:
    seconds: float
    concurrency: int
    streams: dict[str, StreamFetch] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return sum(s.pages + s.extra_pages for s in self.streams.values())

    @property
    def records(self) -> int:
        return sum(s.records for s in self.streams.values())

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.streams.values())


def _ps_items(body: Any) -> tuple[list[dict[str, Any]], bool]:
    data = body.get("data") or {}
    return data.get("items") or [], bool(data.get("has_more"))


def _stripe_items(body: Any) -> tuple[list[dict[str, Any]], bool]:
    return body.get("data") or [], bool(body.get("has_more"))


def _walk(
    client: httpx.Client, url: str, limit: int, id_field: str, extract: Any, params: dict[str, str] | None = None
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    query: dict[str, Any] = {"limit": limit, **(params or {})}
    while True:
        response = client.get(url, params=query)
        response.raise_for_status()
        body = json.loads(response.content)
        items, has_more = extract(body)
        yield items, len(response.content)
        if not has_more or not items:
            return
        query["starting_after"] = items[-1][id_field]


def _fetch_stream(
    client: httpx.Client, name: str, base: str, path: str, limit: int, stripe: bool
) -> tuple[str, StreamFetch]:
    stat = StreamFetch()
    started = time.perf_counter()
    url = f"{base.rstrip('/')}/{path}"
    extract = _stripe_items if stripe else _ps_items
    id_field = "id" if stripe else "key"
    for items, size in _walk(client, url, limit, id_field, extract, STRIPE_EXTRA_PARAMS.get(path) if stripe else None):
        stat.pages += 1
        stat.records += len(items)
        stat.bytes += size
        if stripe and path == "invoices":
            for invoice in items:
                lines = invoice.get("lines") or {}
                if lines.get("has_more"):
                    line_url = f"{base.rstrip('/')}/invoices/{invoice['id']}/lines"
                    for _page, line_size in _walk(client, line_url, 100, "id", _stripe_items, None):
                        stat.extra_pages += 1
                        stat.bytes += line_size
    stat.seconds = time.perf_counter() - started
    return name, stat


def fetch_ceiling(
    partnerstack_url: str,
    stripe_url: str,
    *,
    concurrency: int = 1,
    streams: tuple[str, ...] | None = None,
) -> FetchResult:
    """Walk every list endpoint once; ``concurrency`` streams at a time (each stream's pages are sequential)."""
    jobs = [(n, partnerstack_url, p, lim, False) for n, p, lim in PARTNERSTACK_STREAMS]
    jobs += [(n, stripe_url, p, lim, True) for n, p, lim in STRIPE_STREAMS]
    if streams is not None:
        jobs = [j for j in jobs if j[0] in streams]
    # Largest first, so a parallel walk does not end on one long stream started last.
    jobs.sort(key=lambda j: j[0] != "stripe.invoices")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(
        timeout=httpx.Timeout(120.0),
        limits=limits,
        auth=httpx.BasicAuth("pk_bench", "sk_bench"),
        headers={"Authorization": "Bearer sk_test_bench"},
    ) as ps_client, httpx.Client(
        timeout=httpx.Timeout(120.0), limits=limits, headers={"Authorization": "Bearer sk_test_bench"}
    ) as st_client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [
                pool.submit(_fetch_stream, st_client if stripe else ps_client, name, base, path, limit, stripe)
                for name, base, path, limit, stripe in jobs
            ]
            results = dict(f.result() for f in futures)
        seconds = time.perf_counter() - started
    return FetchResult(seconds=seconds, concurrency=concurrency, streams=results)


@dataclass
class ReplayResult:
    seconds: float
    concurrency: int
    pages: int
    bytes: int


def replay_ceiling(urls: list[str], *, concurrency: int) -> ReplayResult:
    """GET exactly the URLs a connector run requested, ``concurrency`` at a time, and drop the bodies.

    Every page's URL is known up front here, so no page waits for the one before it: a lower bound on
    what any client of this sandbox could do with the same pages and the same number of connections.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    total = 0
    with httpx.Client(timeout=httpx.Timeout(120.0), limits=limits) as client:
        ps_auth = httpx.BasicAuth("pk_bench", "sk_bench")
        st_headers = {"Authorization": "Bearer sk_test_bench"}

        def get(url: str) -> int:
            is_ps = "/partnerstack/" in url
            response = client.get(url, auth=ps_auth) if is_ps else client.get(url, headers=st_headers)
            response.raise_for_status()
            return len(response.content)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for size in pool.map(get, urls, chunksize=16):
                total += size
        seconds = time.perf_counter() - started
    return ReplayResult(seconds=seconds, concurrency=concurrency, pages=len(urls), bytes=total)


@dataclass
class PostResult:
    seconds: float
    concurrency: int
    requests: int


def post_ceiling(posts: list[dict[str, str]], *, concurrency: int) -> PostResult:
    """POST exactly the bodies a connector run sent, ``concurrency`` at a time.

    The sandbox, like PartnerStack, takes no idempotency key, so it creates every reward again: this
    costs the server what the connector's push cost it, a lower bound on any client that must
    create the same rewards over the same number of connections. It leaves duplicate rewards
    behind, so it runs after everything that reads the sandbox's rewards.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=httpx.Timeout(120.0), limits=limits, auth=httpx.BasicAuth("pk_bench", "sk_bench"),
                      headers={"Content-Type": "application/json"}) as client:

        # A dropped connection is retried, so one reset does not void the whole benchmark (a timing
        # run: a duplicate it may leave is never read).
        @retry(retry=retry_if_exception_type(httpx.TransportError), stop=stop_after_attempt(3), reraise=True)
        def post(sent: dict[str, str]) -> None:
            response = client.post(sent["url"], content=sent["body"].encode("utf-8"))
            response.raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for _ in pool.map(post, posts, chunksize=16):
                pass
        seconds = time.perf_counter() - started
    return PostResult(seconds=seconds, concurrency=concurrency, requests=len(posts))


@dataclass
class InsertResult:
    seconds: float  # time inside INSERT executes and commits only (reading the source is not counted)
    rows: int
    tables: dict[str, int] = field(default_factory=dict)


def mirror_tables(metadata: MetaData | None = None) -> list[Table]:
    meta = metadata or Base.metadata
    return [t for t in meta.sorted_tables if t.name.startswith(MIRROR_PREFIXES)]


def insert_ceiling(source: Engine, target: Engine, *, batch: int = 5_000) -> InsertResult:
    """Copy every upstream-mirror row from ``source`` into the empty ``target`` with plain Core inserts."""
    tables = mirror_tables()
    Base.metadata.create_all(target, tables=tables)
    seconds = 0.0
    per_table: dict[str, int] = {}
    with source.connect() as src:
        for table in tables:
            count = 0
            result = src.execution_options(stream_results=True, yield_per=batch).execute(select(table))
            for chunk in result.mappings().partitions(batch):
                rows = [dict(r) for r in chunk]
                started = time.perf_counter()
                with target.begin() as dst:
                    dst.execute(table.insert(), rows)
                seconds += time.perf_counter() - started
                count += len(rows)
            per_table[table.name] = count
    return InsertResult(seconds=seconds, rows=sum(per_table.values()), tables=per_table)
