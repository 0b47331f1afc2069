"""One run of the connector: lock → run row → pull → compute → push → finish.

Each stage commits its own consistent units (pull a page with its cursor, compute in one
transaction, push a batch of entries at a time), so a run that fails part-way leaves a store that
the next run simply continues from; the run row says `failed` with a one-line reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from connector.config import ConfigError, Settings
from connector.context import ProgressHook, RunContext, RunKind
from connector.push.outbox import PushResult, push
from connector.run.lock import run_lock
from connector.store.db import ensure_schema_ready, make_engine, ping, session_factory, transaction
from connector.store.models import LedgerEntry, Run

log = logging.getLogger(__name__)


class RunFailed(Exception):
    """The run started and failed; the message is the one line stored in `runs.error`."""

    def __init__(self, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the message names the host, never the password."""


@dataclass
class RunOutcome:
    run_id: str
    kind: str
    program: str
    as_of: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    pulled: dict[str, int] = field(default_factory=dict)
    entries_appended: int = 0
    push: PushResult | None = None
    compute: Any = None
    notes: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0


def describe_database(url: str) -> str:
    """Where the database is, for messages: host:port/db or the SQLite file; no credentials."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or ':memory:'}"
    host = parsed.host or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"PostgreSQL at {host}{port}/{parsed.database or ''}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


def open_engine(settings: Settings) -> Engine:
    """An engine on a reachable, migrated database; `DatabaseUnavailable` / `SchemaNotReady` else."""
    url = settings.database.url
    engine = make_engine(url, echo=settings.database.echo)
    try:
        ping(engine)
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        orig = getattr(exc, "orig", None) or exc
        reason = _first_line(orig)
        password = make_url(url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise DatabaseUnavailable(f"cannot reach the database ({describe_database(url)}): {reason}") from None
    try:
        ensure_schema_ready(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _as_utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _pulled_counts(stats: Any) -> dict[str, int]:
    if not isinstance(stats, dict):
        return {}
    out: dict[str, int] = {}
    for stream, stat in stats.items():
        count = stat if isinstance(stat, int) else getattr(stat, "pulled", 0)
        out[str(stream)] = int(count or 0)
    return out


def run_once(
    settings: Settings,
    *,
    kind: RunKind = "sync",
    as_of: dt.datetime | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    progress: ProgressHook | None = None,
    engine: Engine | None = None,
    full: bool = False,
) -> RunOutcome:
    """Run once; raises `LockHeld`, `RunFailed`, `ConfigError`, `SchemaNotReady`, `DatabaseUnavailable`.

    `full` makes a sync recompute every customer's ledger (a backfill always does): what an
    operator wants after editing the store by hand, which the change clock cannot see.

    `engine` lets a long-lived caller (`serve`) reuse one engine across runs: a fresh
    engine per run leaves each run's dialect in SQLAlchemy's compiled caches.
    """
    from connector.rules.program import load_program

    if kind == "backfill" and since is None:
        raise ConfigError("backfill needs --since")
    since, until = _as_utc(since), _as_utc(until)
    if since is not None and until is not None and until <= since:
        raise ConfigError("backfill window is empty: --until must be after --since")
    program = load_program(settings.program.file)
    owned = engine is None
    if engine is None:
        engine = open_engine(settings)
    try:
        with run_lock(engine, settings.lock.ttl_seconds) as lock:
            sessions = session_factory(engine)
            started = dt.datetime.now(dt.UTC)
            clock = time.monotonic()
            ctx = RunContext(
                settings=settings,
                engine=engine,
                sessions=sessions,
                run_id=str(uuid.uuid4()),
                kind=kind,
                as_of=_as_utc(as_of) or started,
                since=since,
                until=until,
                progress=progress,
            )
            with transaction(sessions) as session:
                session.add(
                    Run(id=ctx.run_id, kind=kind, program=program.name, as_of=ctx.as_of, started_at=started,
                        status="running", notes=[])
                )
            log.info("run started", extra={"run_id": ctx.run_id, "kind": kind, "program": program.name,
                                           "as_of": ctx.as_of.isoformat()})
            outcome = RunOutcome(ctx.run_id, kind, program.name, ctx.as_of, started, None, "running")
            stage = "pull"
            try:
                from connector.ledger.compute import compute
                from connector.pull import pull

                outcome.pulled = _pulled_counts(pull(ctx))
                lock.refresh()
                stage = "compute"
                # a scheduled sync recomputes only what can have changed; backfill and demo run full
                outcome.compute = compute(ctx, program, incremental=kind == "sync" and not full)
                lock.refresh()
                stage = "push"
                outcome.push = push(ctx, program)
            except Exception as exc:
                message = f"{stage} failed: {_first_line(exc)}"
                _finish(sessions, ctx, "failed", message)
                log.error("run failed", extra={"run_id": ctx.run_id, "stage": stage, "error": message},
                          exc_info=log.isEnabledFor(logging.DEBUG))
                raise RunFailed(message, run_id=ctx.run_id) from exc
            outcome.finished_at = _finish(sessions, ctx, "succeeded", None)
            outcome.status = "succeeded"
            outcome.notes = list(ctx.notes)
            outcome.duration_seconds = time.monotonic() - clock
            with sessions() as session:
                outcome.entries_appended = session.scalar(
                    select(func.count()).select_from(LedgerEntry).where(LedgerEntry.created_run_id == ctx.run_id)
                ) or 0
            log.info("run succeeded", extra={
                "run_id": ctx.run_id, "duration_s": round(outcome.duration_seconds, 3),
                "pulled": sum(outcome.pulled.values()), "entries_appended": outcome.entries_appended,
                "pushed": outcome.push.pushed if outcome.push else 0,
            })
            return outcome
    finally:
        if owned:
            engine.dispose()


def _finish(sessions: Any, ctx: RunContext, status: str, error: str | None) -> dt.datetime:
    finished = dt.datetime.now(dt.UTC)
    try:
        with transaction(sessions) as session:
            run = session.get(Run, ctx.run_id)
            if run is not None:
                run.status = status
                run.error = error
                run.finished_at = finished
                run.notes = list(ctx.notes)
    except Exception:  # the database may be what failed; the caller still reports the error
        log.exception("could not record the run's end", extra={"run_id": ctx.run_id})
    return finished
