"""The page writer: every row the pull stores, in the caller's transaction with the cursor after it.

Each page's records and the cursor that follows it are committed in one transaction, so a
run can stop anywhere and the next one continues without losing or duplicating a record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete
from sqlalchemy.orm import DeclarativeBase, Session

from adapters.http import Page
from connector.context import RunContext
from connector.mapping import MappedRecord, Mappings, RecordError, StreamMapping
from connector.pull.jsonsafe import json_safe
from connector.pull.stats import StreamStats
from connector.store import models
from connector.store.models import RunStreamStat
from connector.store.writes import load_cursor, quarantine, upsert_rows

log = logging.getLogger(__name__)


@contextmanager
def transaction(ctx: RunContext) -> Iterator[Session]:
    with ctx.sessions() as session, session.begin():
        yield session


def read_cursor(ctx: RunContext, stream: str) -> dict[str, Any]:
    """The stored cursor of `stream` as JSON (empty if none): each stream's cursor type reads it."""
    with ctx.sessions() as session:
        return load_cursor(session, stream)


def _models_by_table() -> dict[str, type[DeclarativeBase]]:
    return {m.local_table.name: m.class_ for m in models.Base.registry.mappers if isinstance(m.local_table, Table)}


@dataclass(frozen=True)
class Reject:
    """A row its source already refused (not a mapping failure): quarantined as it is."""

    source_id: str | None
    error: str
    payload: Any


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
