"""The page writer: every row the pull stores, in the caller's transaction with the cursor after it.

Each page's records and the cursor that follows it are committed in one transaction, so a
run can stop anywhere and the next one continues without losing or duplicating a record.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.orm import DeclarativeBase, Session

from adapters.http import Page
from connector.context import RunContext
from connector.mapping import MappedRecord, Mappings, RecordError, StreamMapping
from connector.pull.jsonsafe import json_safe, stored_raw
from connector.pull.stats import StreamStats
from connector.rules.invariants import DUPLICATE_ID_CONFLICT, PARKED_REASONS, UNMAPPABLE
from connector.store import models
from connector.store.models import Quarantine, RunStreamStat
from connector.store.writes import load_cursor, quarantine, resolve_quarantined, upsert_rows

if TYPE_CHECKING:
    from connector.pull.parking import Parked

log = logging.getLogger(__name__)


@contextmanager
def transaction(ctx: RunContext) -> Iterator[Session]:
    """One pull transaction. On PostgreSQL its COMMIT does not wait for the WAL to reach the disk
    (`synchronous_commit = off`, for this transaction only): a flush costs 10–18 ms a commit on
    this machine's loaded disk against 1–3 ms without, and a backfill commits thousands of times.
    What it risks is safe for a pull: a server crash (never the connector's) can lose the last
    few commits whole, never part of one, so a page's rows and the cursor after it are lost
    together and the next run reads that page again, as after a crash before the commit. It is
    the durability SQLite's WAL with `synchronous=NORMAL` gives every transaction of the store.
    The ledger, the push and the run bookkeeping keep PostgreSQL's default."""
    with ctx.sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        yield session


class RollingTransaction:
    """Batches of pages sharing one transaction until it is `max_seconds` old (0: one per batch).

    Why: a backfill saves no position (run again, it re-reads its whole range), so its pages
    have no cursor to commit with, and committing each batch of a few pages was 17 % of the M
    SQLite writer's samples: every commit writes again the index pages the batch dirtied (each
    page's ids land all over each index), flushes the WAL, and checks the run lock's fence.
    A crash loses at most `max_seconds` of writes, which the next backfill reads again. The
    limit is in seconds, not pages, because it is how long SQLite's write lock is held: the
    run lock's heartbeat waits for it (a busy timeout of 30 s), whatever the pages' size.

    The reader calls `commit` whenever it is about to wait for pages (see `run_concurrently_batched`'s
    `idle`): a writer that keeps up with the fetches, as at an API's rate limit, commits as
    before, and no write lock is held across a slow response or a retry's back-off.

    A batch that fails rolls back the open transaction (the batches before it with it) and is
    raised; anything else raised between batches (a fetch that failed) commits what was written,
    as committing each batch did.
    """

    def __init__(self, ctx: RunContext, max_seconds: float) -> None:  # not money: seconds
        self.ctx = ctx
        self.max_seconds = max_seconds
        self._open: tuple[ExitStack, Session] | None = None  # the open `transaction` and its session
        self._began = 0.0  # not money: monotonic seconds

    @contextmanager
    def batch(self) -> Iterator[Session]:
        """The open transaction's session for one batch; committed after it once old enough.

        Each transaction is a `transaction(ctx)`, as a single batch's was (same session setup)."""
        if self._open is None:
            stack = ExitStack()
            self._open = (stack, stack.enter_context(transaction(self.ctx)))
            self._began = time.monotonic()
        stack, session = self._open
        try:
            yield session
        except BaseException as exc:
            self._open = None
            stack.__exit__(type(exc), exc, exc.__traceback__)  # rolls the transaction back
            raise
        if time.monotonic() - self._began >= self.max_seconds:
            self.commit()

    def commit(self) -> None:
        """Commit what the open transaction holds, if any (the next batch opens another)."""
        opened, self._open = self._open, None
        if opened is not None:
            opened[0].close()

    def __enter__(self) -> RollingTransaction:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.commit()


def read_cursor(ctx: RunContext, stream: str) -> dict[str, Any]:
    """The stored cursor of `stream` as JSON (empty if none): each stream's cursor type reads it."""
    with ctx.sessions() as session:
        return load_cursor(session, stream)


def _unresolved(session: Session) -> dict[str, set[str]]:
    """Per source, the ids of unresolved rows the pull wrote (few: read once per run)."""
    stmt = select(Quarantine.source, Quarantine.source_id).where(
        Quarantine.resolved_at.is_(None),
        Quarantine.source_id.is_not(None),
        Quarantine.reason.is_(None) | Quarantine.reason.in_(_PULL_REASONS),
    )
    out: dict[str, set[str]] = {}
    for source, source_id in session.execute(stmt):
        if source_id is not None:  # (as the statement asks: for the types)
            out.setdefault(source, set()).add(source_id)
    return out


def _models_by_table() -> dict[str, type[DeclarativeBase]]:
    return {m.local_table.name: m.class_ for m in models.Base.registry.mappers if isinstance(m.local_table, Table)}


@dataclass(frozen=True)
class Reject:
    """A row its source already refused (not a mapping failure): quarantined as it is."""

    source_id: str | None
    error: str
    payload: Any


HOLDS: dict[str, str] = {"stripe.invoices": "customer_id", "partnerstack.deals": "partner_key"}
"""Streams whose quarantined records feed rules other entries depend on, and the field naming whom:
an invoice may be its customer's first purchase; a deal counts toward its partner's tier ordinals.
While such a record is unresolved those entries are held `upstream_quarantined`."""

# rows a later clean read of the record resolves
_PULL_REASONS = (UNMAPPABLE, DUPLICATE_ID_CONFLICT, *PARKED_REASONS)


class RecordWriter:
    """Maps payloads and writes them (and their quarantines) into the caller's transaction.

    A record quarantined by an earlier run that is now stored whole resolves its row: the upstream
    was fixed. One quarantined in this run stays unresolved until a later run reads it clean.
    """

    def __init__(self, ctx: RunContext, mappings: Mappings) -> None:
        self.ctx = ctx
        self.mappings = mappings
        self.models = _models_by_table()
        self.fingerprint_key = ctx.settings.security.fingerprint_key.get_secret_value()
        self._unresolved: dict[str, set[str]] | None = None  # source -> ids quarantined by earlier runs
        self._lock = threading.Lock()

    def write(
        self, session: Session, source: str, payloads: Iterable[Any], stats: StreamStats
    ) -> list[MappedRecord]:
        mapping = self.mappings[source]
        # a page whose body had nothing to clean needs no per-payload check (see adapters.http.Page)
        check_raw = mapping.has_raw and not (isinstance(payloads, Page) and payloads.clean)
        fingerprint_key = self.fingerprint_key
        max_field_chars = self.ctx.settings.http.max_field_chars
        records: dict[str, MappedRecord] = {}
        payload_of: dict[str, Any] = {}  # the payload each kept record came from (a conflict quarantines it)
        conflicts: dict[str, list[Any]] = {}
        for payload in payloads:
            try:
                record = mapping.apply(payload, fingerprint_key)
                if check_raw:  # NUL, surrogates, long strings cut, undecodable bytes refused
                    record.row["raw"] = stored_raw(record.row["raw"], max_field_chars)
            except RecordError as exc:
                self._quarantine(session, mapping, payload, str(exc), stats)
                continue
            if record.key in conflicts:
                conflicts[record.key].append(payload)
                continue
            earlier = records.pop(record.key, None)
            if earlier is not None and (earlier.row != record.row or earlier.children != record.children):
                conflicts[record.key] = [payload_of.pop(record.key), payload]
                continue
            records[record.key] = record  # an identical copy of an id is stored once
            payload_of[record.key] = payload
        for key, copies in conflicts.items():
            self._conflict(session, mapping, key, copies, stats)
        stored = list(records.values())
        self._store(session, mapping, stored)
        self._resolve(session, mapping.source, [r.key for r in stored])
        stats.pulled += len(records)
        return stored

    def write_rows(
        self,
        session: Session,
        source: str,
        model: type[DeclarativeBase],
        rows: list[dict[str, Any]],
        rejects: Iterable[Reject],
        stats: StreamStats,
    ) -> None:
        """Rows already in canonical form (keyed by `id`), and the ones their reader refused."""
        for reject in rejects:
            quarantine(
                session,
                run_id=self.ctx.run_id,
                source=source,
                source_id=reject.source_id,
                error=json_safe(reject.error),
                payload=json_safe(reject.payload, cap=2000),
            )
            stats.quarantined += 1
        upsert_rows(session, model, rows)
        stats.pulled += len({r["id"] for r in rows})

    def write_stats(self, session: Session, stream: str, stats: StreamStats) -> None:
        row = {
            "run_id": self.ctx.run_id,
            "stream": stream,
            "pulled": stats.pulled,
            "quarantined": stats.quarantined,
            "pages": stats.pages,
            "requests": stats.requests,
            "retries": stats.retries,
        }
        upsert_rows(session, RunStreamStat, [row])

    def _conflict(
        self, session: Session, mapping: StreamMapping, key: str, copies: list[Any], stats: StreamStats
    ) -> None:
        """Two copies of one id with different content in one page: neither is stored (which one is
        right is not known; the later one is not more likely), each copy is quarantined."""
        for n, payload in enumerate(copies, 1):
            error = f"{len(copies)} copies of id {key} with different content in one page (copy {n})"
            self._quarantine(session, mapping, payload, error, stats, reason=DUPLICATE_ID_CONFLICT)

    def park(self, session: Session, source: str, parked: Iterable[Parked], stats: StreamStats) -> None:
        """Quarantine records a retry cannot fix (`connector.pull.parking`), in the page's transaction.

        A record already parked by an earlier run (its object changed again, still broken) keeps
        its one row, with the new error; a later run retries it."""
        mapping = self.mappings[source]
        for p in parked:
            source_id = mapping.record_id(p.payload)
            error = json_safe(f"{p.reason}: {p.error}", cap=2000)
            if source_id is not None:
                stmt = (
                    update(Quarantine)
                    .where(Quarantine.resolved_at.is_(None), Quarantine.source == source,
                           Quarantine.source_id == source_id, Quarantine.reason == p.reason)
                    .values(error=error, last_attempt_at=dt.datetime.now(dt.UTC))
                )  # fmt: skip
                if getattr(session.execute(stmt), "rowcount", 0):
                    continue
            self._quarantine(session, mapping, p.payload, error, stats, reason=p.reason)

    def _resolve(self, session: Session, source: str, keys: list[str]) -> None:
        """Resolve the rows of earlier runs whose record is now stored whole."""
        with self._lock:
            if self._unresolved is None:
                self._unresolved = _unresolved(session)
            pending = self._unresolved.get(source)
            fixed = sorted(k for k in keys if k in pending) if pending else []
            if pending:
                pending.difference_update(fixed)
        if fixed:
            resolve_quarantined(
                session, self.ctx.run_id, Quarantine.source == source, Quarantine.source_id.in_(fixed),
                Quarantine.reason.is_(None) | Quarantine.reason.in_(_PULL_REASONS),
            )  # fmt: skip

    def _quarantine(
        self,
        session: Session,
        mapping: StreamMapping,
        payload: Any,
        error: str,
        stats: StreamStats,
        *,
        reason: str = UNMAPPABLE,
    ) -> None:
        source_id = mapping.record_id(payload)
        redacted = mapping.redacted(payload)
        holds = HOLDS.get(mapping.source)
        who = mapping.field_text(payload, holds) if holds is not None else None
        quarantine(
            session,
            run_id=self.ctx.run_id,
            source=mapping.source,
            source_id=json_safe(source_id, cap=255) if source_id is not None else None,
            error=json_safe(error, cap=2000),
            payload=json_safe(redacted, cap=2000) if redacted is not None else None,
            reason=reason,
            customer_id=json_safe(who) if holds == "customer_id" and who else None,
            partner_key=json_safe(who) if holds == "partner_key" and who else None,
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
