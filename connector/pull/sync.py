"""The pull half of `connector sync`: read every upstream stream into the store, resumably.

Each page's records and the cursor that follows it are committed in one transaction, so a
run can stop anywhere and the next one continues without losing or duplicating a record.

- PartnerStack lists come newest first. Streams with an update filter are read in windows
  `min_updated ≥ watermark − overlap`, paged to the end before the watermark moves; the
  last committed page's key is saved so a crash resumes mid-window. Rewards and
  transactions have no update filter: each run reads what is newer than the newest record
  already read (`ending_before` its key, so items sharing a created millisecond are not
  re-read) and the `overlap_seconds` before it; the whole `trailing_window_days` window is
  re-read only every `trailing_reread_hours`, to catch edits to older records.
- Stripe: the first run records the newest event, then reads every stream in `created`
  windows (fetched concurrently, written from this thread, which keeps SQLite happy);
  later runs read `/v1/events` since the saved event, oldest first. A saved event older
  than Stripe's retention falls back to re-reading windows, and says so in `ctx.notes`.
- Finance's cost file is re-read whole each run (rows are keyed by content).
- Backfill re-reads `[since, until)` by created time and never moves a cursor.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, delete
from sqlalchemy.orm import DeclarativeBase, Session

from adapters.files import read_marketing_costs
from adapters.http import CursorRejected, Page, RequestCounter, UpstreamError
from adapters.partnerstack import PartnerStackClient, to_epoch_ms
from adapters.stripe import RESOURCES as STRIPE_RESOURCES
from adapters.stripe import StripeClient, to_epoch_s
from connector.config import ConfigError
from connector.context import RunContext
from connector.mapping import MappedRecord, Mappings, RecordError, StreamMapping, load_mappings
from connector.store import models
from connector.store.models import MarketingCost, RunStreamStat
from connector.store.writes import load_cursor, quarantine, save_cursor, upsert_rows

log = logging.getLogger(__name__)

PS_UPDATED_STREAMS = ("groups", "partnerships", "customers", "leads", "deals")
PS_TRAILING_STREAMS = ("rewards", "transactions")
STRIPE_STREAMS = tuple(STRIPE_RESOURCES)
EVENTS_STREAM = "stripe.events"
COSTS_STREAM = "finance.marketing_costs"
EVENT_CHUNK = 500  # events applied (and the position saved) per transaction

# Stripe `object` of an event's data.object → stream
EVENT_OBJECT_STREAMS = {
    "product": "products",
    "price": "prices",
    "customer": "customers",
    "subscription": "subscriptions",
    "invoice": "invoices",
    "credit_note": "credit_notes",
    "refund": "refunds",
    "dispute": "disputes",
    "invoice_payment": "invoice_payments",
}


@dataclass
class StreamStats:
    pulled: int = 0
    quarantined: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    counter: RequestCounter = field(default_factory=RequestCounter, repr=False, compare=False)

    def settle(self) -> None:
        self.requests = self.counter.requests
        self.retries = self.counter.retries


def _models_by_table() -> dict[str, type[DeclarativeBase]]:
    return {m.local_table.name: m.class_ for m in models.Base.registry.mappers if isinstance(m.local_table, Table)}


_SURROGATES: dict[int, str] = {c: "\ufffd" for c in range(0xD800, 0xE000)}
_SURROGATES[0] = "\ufffd"


# What a JSON column may refuse: a lone surrogate, a NUL (escaped by json.dumps), an over-long key.
_UNSAFE_JSON = re.compile(r'[\ud800-\udfff]|\\u0000|"[^"]{201,}":')


def json_safe(value: Any, *, cap: int | None = None) -> Any:
    """A payload every database's JSON accepts: no lone surrogates or NULs (optionally capped).

    Nearly every payload is already safe; one C-speed dump and a regex tell, so the
    Python walk that rebuilds it runs only for the few that are not.
    """
    if cap is None and isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, default=str)
        if _UNSAFE_JSON.search(text) is None:
            return value
    return _json_safe_walk(value, cap=cap)


def _json_safe_walk(value: Any, *, cap: int | None) -> Any:
    if isinstance(value, str):
        clean = value.translate(_SURROGATES) if not value.isascii() or "\x00" in value else value
        return clean[:cap] if cap is not None else clean
    if isinstance(value, dict):
        return {_json_safe_walk(str(k), cap=200): _json_safe_walk(v, cap=cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe_walk(v, cap=cap) for v in value]
    return value


class RecordWriter:
    """Maps payloads and writes them (and their quarantines) into the caller's transaction."""

    def __init__(self, ctx: RunContext, mappings: Mappings) -> None:
        self.ctx = ctx
        self.mappings = mappings
        self.models = _models_by_table()
        self.fingerprint_key = ctx.settings.security.fingerprint_key.get_secret_value()

    def write(
        self, session: Session, source: str, payloads: Iterable[Any], stats: StreamStats
    ) -> list[MappedRecord]:
        mapping = self.mappings[source]
        # a page whose body had nothing to clean needs no per-payload check (see adapters.http.Page)
        check_raw = mapping.has_raw and not (isinstance(payloads, Page) and payloads.clean)
        fingerprint_key = self.fingerprint_key
        records: dict[str, MappedRecord] = {}
        for payload in payloads:
            try:
                record = mapping.apply(payload, fingerprint_key)
                if check_raw:
                    record.row["raw"] = json_safe(record.row["raw"])
            except RecordError as exc:
                self._quarantine(session, mapping, payload, str(exc), stats)
                continue
            records.pop(record.key, None)
            records[record.key] = record  # duplicate ids within a stream: the last one wins
        self._store(session, mapping, list(records.values()))
        stats.pulled += len(records)
        return list(records.values())

    def _quarantine(
        self, session: Session, mapping: StreamMapping, payload: Any, error: str, stats: StreamStats
    ) -> None:
        source_id = mapping.record_id(payload)
        redacted = mapping.redacted(payload)
        quarantine(
            session,
            run_id=self.ctx.run_id,
            source=mapping.source,
            source_id=json_safe(source_id, cap=255) if source_id is not None else None,
            error=json_safe(error, cap=2000),
            payload=json_safe(redacted, cap=2000) if redacted is not None else None,
        )
        stats.quarantined += 1
        log.warning("quarantined %s %s: %s", mapping.source, json_safe(source_id or "?"), json_safe(error))

    def _store(self, session: Session, mapping: StreamMapping, records: list[MappedRecord]) -> None:
        if not records:
            return
        upsert_rows(session, self.models[mapping.table], [r.row for r in records])
        for child in mapping.children:
            model = self.models[child.table]
            link = next(f.name for f in child.fields if f.paths[0].startswith("@parent."))
            column = model.__table__.c[link]
            keys = [r.key for r in records]
            for i in range(0, len(keys), 500):  # a parent's lines are replaced, not merged
                session.execute(delete(model).where(column.in_(keys[i : i + 500])))
            upsert_rows(session, model, [row for r in records for row in r.children.get(child.table, [])])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key(item: Any) -> str | None:
    """A PartnerStack item's key as a paging cursor (None for a malformed item)."""
    key = item.get("key") if isinstance(item, dict) else None
    return str(key) if isinstance(key, str | int) and not isinstance(key, bool) else None


def _position(page: list[Any]) -> dict[str, Any] | None:
    """Key and created time of a newest-first page's newest usable item: where the next read starts."""
    for item in page:
        key = _key(item)
        if key is not None:
            created = item.get("created_at")
            return {"key": key, "created": created if _is_int(created) else None}
    return None


# ---------------------------------------------------------------- concurrency


class _Cancelled(Exception):
    pass


@dataclass
class _Failure:
    exc: BaseException


_DONE = object()


def run_concurrently(
    tasks: list[Callable[[Callable[[Any], None]], None]], workers: int
) -> Iterator[Any]:
    """Run fetch tasks on threads; yield what they emit here, so one thread does the writing."""
    for batch in run_concurrently_batched(tasks, workers):
        yield from batch


def run_concurrently_batched(
    tasks: list[Callable[[Callable[[Any], None]], None]], workers: int, max_batch: int = 1
) -> Iterator[list[Any]]:
    """`run_concurrently`, yielding everything already emitted (up to `max_batch`) at once.

    When the writing thread is the slower side, the pages waiting for it can share one
    transaction instead of paying a commit each; when it keeps up, batches hold one item.
    """
    if not tasks:
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=max(2, workers * 2))
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Cancelled

    def runner(task: Callable[[Callable[[Any], None]], None]) -> None:
        try:
            if stop.is_set():
                return
            task(put)
        except _Cancelled:
            return
        except BaseException as exc:  # handed to the writing thread, which re-raises it
            try:
                put(_Failure(exc))
            except _Cancelled:
                return
        try:
            put(_DONE)
        except _Cancelled:
            return

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pull")
    try:
        for task in tasks:
            pool.submit(runner, task)
        remaining = len(tasks)
        while remaining:
            batch: list[Any] = []
            item = q.get()
            while True:
                if item is _DONE:
                    remaining -= 1
                elif isinstance(item, _Failure):
                    if batch:  # what came before the failure is still written
                        yield batch
                    raise item.exc
                else:
                    batch.append(item)
                if len(batch) >= max_batch or not remaining:
                    break
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                yield batch
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- the pull


class Puller:
    def __init__(self, ctx: RunContext, ps: PartnerStackClient, st: StripeClient, mappings: Mappings) -> None:
        self.ctx = ctx
        self.ps = ps
        self.st = st
        self.writer = RecordWriter(ctx, mappings)
        self.stats: dict[str, StreamStats] = {}

    def stat(self, stream: str) -> StreamStats:
        return self.stats.setdefault(stream, StreamStats())

    def _page_done(self, stream: str) -> None:
        if self.ctx.progress is not None:
            self.ctx.progress(stream, self.stat(stream).pulled, None)

    def finish_stream(self, stream: str) -> None:
        stats = self.stat(stream)
        stats.settle()
        with self.ctx.sessions() as session, session.begin():
            upsert_rows(
                session,
                RunStreamStat,
                [
                    {
                        "run_id": self.ctx.run_id,
                        "stream": stream,
                        "pulled": stats.pulled,
                        "quarantined": stats.quarantined,
                        "pages": stats.pages,
                        "requests": stats.requests,
                        "retries": stats.retries,
                    }
                ],
            )

    # ---------------------------------------------------------- PartnerStack

    def _backfill_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.ctx.since is not None:
            params["min_created"] = to_epoch_ms(self.ctx.since)
        if self.ctx.until is not None:
            params["max_created"] = to_epoch_ms(self.ctx.until) - 1  # half-open [since, until)
        return params

    def ps_stream(self, resource: str) -> None:
        stream = f"partnerstack.{resource}"
        stats = self.stat(stream)
        if self.ctx.is_backfill:
            for page in self.ps.iter_list(resource, self._backfill_params(), counter=stats.counter):
                with self.ctx.sessions() as session, session.begin():
                    self.writer.write(session, stream, page, stats)
                stats.pages += 1
                self._page_done(stream)
            return
        with self.ctx.sessions() as session:
            state = load_cursor(session, stream)
        if resource in PS_UPDATED_STREAMS:
            self._ps_updated(stream, resource, state, stats)
        else:
            self._ps_trailing(stream, resource, state, stats)

    def _ps_updated(self, stream: str, resource: str, state: dict[str, Any], stats: StreamStats) -> None:
        """Window `min_updated ≥ watermark − overlap`; the watermark moves only once it is paged to the end."""
        watermark: int | None = state.get("watermark")
        window = state.get("window")
        if not isinstance(window, dict):
            overlap = self.ctx.settings.partnerstack.overlap_seconds * 1000
            window = {
                "min_updated": watermark - overlap if watermark is not None else None,
                "after": None,
                "max_seen": watermark,
            }
        params = {"min_updated": window["min_updated"], "starting_after": window["after"]}
        for page in self.ps.iter_list(resource, params, counter=stats.counter):
            with self.ctx.sessions() as session, session.begin():
                records = self.writer.write(session, stream, page, stats)
                seen = [
                    to_epoch_ms(r.row["updated_at"]) for r in records if r.row.get("updated_at") is not None
                ]
                if seen:
                    window["max_seen"] = max([window["max_seen"] or 0, *seen])
                if page:
                    window["after"] = str(page[-1].get("key"))
                save_cursor(session, stream, {"watermark": watermark, "window": window})
            stats.pages += 1
            self._page_done(stream)
        with self.ctx.sessions() as session, session.begin():
            save_cursor(session, stream, {"watermark": window["max_seen"], "window": None})

    def _ps_trailing(self, stream: str, resource: str, state: dict[str, Any], stats: StreamStats) -> None:
        """No update filter: read what is newer than the newest record already read (`head`), then
        the overlap just before it; re-read the whole trailing window only when it is due.

        The read in progress (`pass`) is saved with every page, so a crash resumes it; `head`
        and `reread_at` move only once it is paged to the end.
        """
        ps = self.ctx.settings.partnerstack
        now = to_epoch_ms(self.ctx.as_of)
        head = state.get("head") if isinstance(state.get("head"), dict) else None
        reread_at = state.get("reread_at") if isinstance(state.get("reread_at"), int) else None
        read_before = reread_at is not None or bool(state.get("full_read"))  # `full_read`: the older layout
        window = {
            "kind": "window",
            "min_created": now - ps.trailing_window_days * 86_400_000 if read_before else None,
            "cursor": None,
            "newest": None,
            "started": now,
        }
        step = state.get("pass")
        if isinstance(step, dict) and "kind" not in step:  # a pass saved by the older layout: finish it
            step = {**window, "min_created": step.get("min_created"), "cursor": step.get("after")}
        if not isinstance(step, dict):
            due = reread_at is None or now - reread_at >= ps.trailing_reread_hours * 3_600_000
            step = dict(window) if head is None or due else {"kind": "new", "cursor": head["key"], "newest": None}
        restarted = False
        while step is not None:
            try:
                self._trailing_read(stream, resource, step, {"head": head, "reread_at": reread_at}, stats)
            except CursorRejected as exc:
                if restarted:
                    raise
                restarted = True
                if step["kind"] == "new":
                    self.ctx.notes.append(
                        f"partnerstack {resource}: the newest record read before is gone; re-read the trailing window"
                    )
                    log.warning("partnerstack %s: %s; re-reading the trailing window", resource, exc)
                    step = dict(window)
                else:
                    step = {**step, "cursor": None}
                continue
            if step["kind"] == "new" and head is not None and _is_int(head.get("created")) and ps.overlap_seconds:
                created = int(head["created"])
                step = {
                    "kind": "overlap",
                    "min_created": created - ps.overlap_seconds * 1000,
                    "max_created": created - 1,  # the head's own millisecond: read by `new` up to the head
                    "cursor": None,
                    "newest": step["newest"],
                }
            else:
                if step["kind"] == "window":
                    reread_at = int(step["started"])
                head = step["newest"] or head
                step = None
            with self.ctx.sessions() as session, session.begin():
                save_cursor(session, stream, {"head": head, "reread_at": reread_at, "pass": step})

    def _trailing_read(
        self, stream: str, resource: str, step: dict[str, Any], saved: dict[str, Any], stats: StreamStats
    ) -> None:
        """Page one step of `_ps_trailing`, saving the step's progress with every page."""
        kind = step["kind"]
        if kind == "new":
            pages = self.ps.iter_newer(resource, str(step["cursor"]), counter=stats.counter)
        else:
            params = {
                "min_created": step.get("min_created"),
                "max_created": step.get("max_created"),
                "starting_after": step.get("cursor"),
            }
            pages = self.ps.iter_list(resource, params, counter=stats.counter)
        for page in pages:
            with self.ctx.sessions() as session, session.begin():
                self.writer.write(session, stream, page, stats)
                newest = _position(page)
                if kind == "new":  # each page is newer than the one before
                    step["newest"] = newest or step["newest"]
                    step["cursor"] = _key(page[0]) if page and _key(page[0]) else step["cursor"]
                else:
                    if kind == "window" and step["newest"] is None:
                        step["newest"] = newest
                    step["cursor"] = _key(page[-1]) if page and _key(page[-1]) else step["cursor"]
                save_cursor(session, stream, {**saved, "pass": step})
            stats.pages += 1
            self._page_done(stream)

    # ---------------------------------------------------------- Stripe

    def _fetch_window_task(
        self, resource: str, label: str, params: dict[str, Any], counter: RequestCounter
    ) -> Callable[[Callable[[Any], None]], None]:
        def task(emit: Callable[[Any], None]) -> None:
            for page in self.st.iter_list(resource, params, counter=counter):
                emit((label, self._complete(resource, page, counter), False))
            emit((label, [], True))

        return task

    def _complete(self, resource: str, page: list[dict[str, Any]], counter: RequestCounter) -> list[Any]:
        """Fetch what Stripe only embeds in part (invoice lines past 10, subscription items).

        A page none of whose objects needed more stays the same `Page`, still known clean.
        """
        if resource == "invoices":
            done = [self.st.complete_invoice(p, counter=counter) if isinstance(p, dict) else p for p in page]
        elif resource == "subscriptions":
            done = [self.st.complete_subscription(p, counter=counter) if isinstance(p, dict) else p for p in page]
        else:
            return page
        return page if all(a is b for a, b in zip(done, page, strict=True)) else done

    def windows(self, since: int | None, until: int) -> list[tuple[str, dict[str, Any]]]:
        """`created` windows covering [since, until), newest first; no `since` ends in an open tail."""
        size = self.ctx.settings.stripe.backfill_window_days * 86_400
        out: list[tuple[str, dict[str, Any]]] = []
        hi = until
        if since is None:
            for _ in range(max(2, self.ctx.settings.stripe.concurrency * 2)):
                out.append((f"{hi - size}:{hi}", {"created[gte]": hi - size, "created[lt]": hi}))
                hi -= size
            out.append((f":{hi}", {"created[lt]": hi}))
            return out
        while hi > since:
            lo = max(since, hi - size)
            out.append((f"{lo}:{hi}", {"created[gte]": lo, "created[lt]": hi}))
            hi = lo
        return out

    def stripe_windows(self, resource: str, since: int | None, until: int | None, epoch: str | None) -> None:
        """Read `resource` created in [since, until); with an `epoch`, every page saves its position.

        The first page of the whole range comes first: a small stream ends there. A bigger one
        is split below that page into `created` windows fetched concurrently.
        """
        stream = f"stripe.{resource}"
        stats = self.stat(stream)
        progress: dict[str, Any] = {}
        if epoch is not None:
            with self.ctx.sessions() as session:
                state = load_cursor(session, stream)
            if state.get("epoch") == epoch:
                progress = dict(state.get("windows") or {})
        head = progress.get("head")
        if not isinstance(head, dict):
            params = {"created[gte]": since, "created[lt]": until}
            first, has_more = self.st.list_page(resource, params, counter=stats.counter)
            items = self._complete(resource, first, stats.counter)
            created = [i.get("created") for i in items if isinstance(i, dict)]
            numbers = [c for c in created if isinstance(c, int) and not isinstance(c, bool)]
            bound = None
            if has_more:  # everything older than the head page's oldest second is still to read
                bound = min(numbers) + 1 if numbers else (until or to_epoch_s(self.ctx.as_of) + 86_400)
            head = {"bound": bound}
            with self.ctx.sessions() as session, session.begin():
                self.writer.write(session, stream, items, stats)
                progress["head"] = head
                if epoch is not None:
                    save_cursor(session, stream, {"epoch": epoch, "windows": progress})
            stats.pages += 1
            self._page_done(stream)
        if head.get("bound") is None:
            return
        tasks = []
        for label, params in self.windows(since, int(head["bound"])):
            done = progress.get(label)
            if done == "done":
                continue
            query = dict(params)
            if isinstance(done, dict) and done.get("after"):
                query["starting_after"] = done["after"]
            tasks.append(self._fetch_window_task(resource, label, query, stats.counter))
        workers = self.ctx.settings.stripe.concurrency
        for batch in run_concurrently_batched(tasks, workers, max_batch=2 * workers):
            with self.ctx.sessions() as session, session.begin():  # the pages and the position after them
                for label, page, finished in batch:
                    if page:
                        self.writer.write(session, stream, page, stats)
                        last = page[-1].get("id") if isinstance(page[-1], dict) else None
                        progress[label] = {"after": last}
                    if finished:
                        progress[label] = "done"
                if epoch is not None:
                    save_cursor(session, stream, {"epoch": epoch, "windows": progress})
            for _, page, _ in batch:
                if page:
                    stats.pages += 1
                    self._page_done(stream)

    def stripe_backfill(self) -> None:
        since = to_epoch_s(self.ctx.since) if self.ctx.since is not None else 0
        until = to_epoch_s(self.ctx.until) if self.ctx.until is not None else None
        for resource in STRIPE_STREAMS:
            self.stripe_windows(resource, since, until, epoch=None)
            self.finish_stream(f"stripe.{resource}")

    def stripe_sync(self) -> None:
        events_stats = self.stat(EVENTS_STREAM)
        with self.ctx.sessions() as session:
            state = load_cursor(session, EVENTS_STREAM)
        full = state.get("full")
        position = state.get("position")
        if not isinstance(full, dict):
            newest = self.st.newest_event(counter=events_stats.counter)
            newest_pos = {"id": newest.get("id"), "created": newest.get("created")} if newest else None
            if isinstance(position, dict) and not self._expired(position, newest_pos):
                self.stripe_events(position)
                return
            since: int | None = None
            if isinstance(position, dict):
                retention = self.ctx.settings.stripe.event_retention_days
                since = int(position.get("created") or 0) - 86_400
                day = dt.datetime.fromtimestamp(since, dt.UTC).date().isoformat()
                self.ctx.notes.append(
                    f"stripe: saved event position older than {retention}-day retention; re-read windows since {day}"
                )
            # Record the newest event before reading, so nothing changed during the read is missed.
            full = {"epoch": self.ctx.run_id, "pending": newest_pos, "since": since}
            with self.ctx.sessions() as session, session.begin():
                save_cursor(session, EVENTS_STREAM, {"position": position, "full": full})
        for resource in STRIPE_STREAMS:
            self.stripe_windows(resource, full.get("since"), None, epoch=str(full["epoch"]))
            self.finish_stream(f"stripe.{resource}")
        pending = full.get("pending") or {"id": None, "created": to_epoch_s(self.ctx.as_of)}
        with self.ctx.sessions() as session, session.begin():
            save_cursor(session, EVENTS_STREAM, {"position": pending})

    def _expired(self, position: dict[str, Any], newest: dict[str, Any] | None) -> bool:
        """Is the saved event gone from Stripe's retention (and has anything happened since)?"""
        if newest is None or newest.get("id") == position.get("id"):
            return False
        retention = self.ctx.settings.stripe.event_retention_days * 86_400
        now = max(to_epoch_s(self.ctx.as_of), int(newest.get("created") or 0))
        return int(position.get("created") or 0) < now - retention

    def stripe_events(self, position: dict[str, Any]) -> None:
        """Apply events after `position`, oldest first, in chunks that each move the position."""
        events_stats = self.stat(EVENTS_STREAM)
        events = self.st.events_since(int(position.get("created") or 0), counter=events_stats.counter)
        ids = [e.get("id") for e in events]
        if position.get("id") in ids:
            events = events[ids.index(position.get("id")) + 1 :]
        events_stats.pulled += len(events)
        events_stats.pages += 1
        for start in range(0, len(events), EVENT_CHUNK):
            chunk = events[start : start + EVENT_CHUNK]
            by_stream: dict[str, dict[str, Any]] = {}
            for event in chunk:
                obj = (event.get("data") or {}).get("object") if isinstance(event, dict) else None
                if not isinstance(obj, dict) or obj.get("deleted"):
                    continue
                resource = EVENT_OBJECT_STREAMS.get(str(obj.get("object")))
                if resource is None:
                    continue
                objects = by_stream.setdefault(resource, {})
                objects.pop(str(obj.get("id")), None)
                objects[str(obj.get("id"))] = obj  # the latest state wins
            last = chunk[-1]
            new_position = {"id": last.get("id"), "created": last.get("created")}
            completed = {
                resource: self._complete(resource, list(objs.values()), self.stat(f"stripe.{resource}").counter)
                for resource, objs in by_stream.items()
            }
            with self.ctx.sessions() as session, session.begin():
                for resource, objs in completed.items():
                    self.writer.write(session, f"stripe.{resource}", objs, self.stat(f"stripe.{resource}"))
                save_cursor(session, EVENTS_STREAM, {"position": new_position})
        for resource in STRIPE_STREAMS:
            self.finish_stream(f"stripe.{resource}")

    # ---------------------------------------------------------- finance

    def marketing_costs(self) -> None:
        path = self.ctx.settings.finance.marketing_costs_file
        if not path:
            return
        stats = self.stat(COSTS_STREAM)
        try:
            rows = read_marketing_costs(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"bad setting finance.marketing_costs_file: cannot read {path}: {exc}") from None
        with self.ctx.sessions() as session, session.begin():
            good = []
            for cost in rows:
                if cost.row is None:
                    quarantine(
                        session,
                        run_id=self.ctx.run_id,
                        source=COSTS_STREAM,
                        source_id=cost.source_id,
                        error=json_safe(cost.error or "invalid row"),
                        payload=json_safe(cost.original, cap=2000),
                    )
                    stats.quarantined += 1
                else:
                    good.append(cost.row)
            upsert_rows(session, MarketingCost, good)
            stats.pulled += len({r["id"] for r in good})
            stats.pages += 1
        self.finish_stream(COSTS_STREAM)


def pull(ctx: RunContext) -> dict[str, StreamStats]:
    """Read every stream into the store; returns per-stream statistics (also saved per run)."""
    mappings = load_mappings(ctx.settings)
    ps = PartnerStackClient(ctx.settings)
    st = StripeClient(ctx.settings)
    puller = Puller(ctx, ps, st, mappings)
    try:
        for resource in PS_UPDATED_STREAMS + PS_TRAILING_STREAMS:
            puller.ps_stream(resource)
            puller.finish_stream(f"partnerstack.{resource}")
        if ctx.is_backfill:
            puller.stripe_backfill()
        else:
            puller.stripe_sync()
            puller.finish_stream(EVENTS_STREAM)
        puller.marketing_costs()
    finally:
        ps.close()
        st.close()
    for stats in puller.stats.values():
        stats.settle()
    return puller.stats


__all__ = ["StreamStats", "UpstreamError", "json_safe", "pull", "run_concurrently", "run_concurrently_batched"]
