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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from connector.config import ConfigError, Settings, require_api_keys, require_fingerprint_key
from connector.context import ProgressHook, RunContext, RunKind
from connector.push.outbox import PushResult, push
from connector.run.fence import Fence, fenced
from connector.run.lock import run_lock
from connector.run.logs import json_mode, set_run_id
from connector.store.db import (
    SchemaNotReady,
    ensure_schema_ready,
    is_empty,
    make_engine,
    ping,
    prepare_schema,
    session_factory,
    transaction,
)
from connector.store.models import LedgerEntry, Run

if TYPE_CHECKING:
    from connector.rules.program import Program

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


class DatabaseMissing(SchemaNotReady):
    """A read-only command (report, check) found no database, or an empty one: nothing to read."""


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_engine(settings: Settings, *, prepare: bool = False, serving: bool = False) -> Engine:
    """An engine on a reachable database whose schema is at head.

    `prepare` (the commands that run: sync, backfill, serve) creates the schema in an empty
    database and migrates one that is behind when `[database] migrate_on_start` says so
    (`serving` picks that setting's default). Without it (report, check) nothing is written:
    a missing SQLite file or an empty database is `DatabaseMissing`, never created.
    Raises `DatabaseUnavailable` / `SchemaNotReady`.
    """
    url = settings.database.url
    path = sqlite_file(url)
    if not prepare and path is not None:
        if not path.is_file():
            raise DatabaseMissing(f"no database at {path}: run `connector sync` first, or pass --config")
        if path.stat().st_size == 0:  # not even opened: do not turn it into a WAL database here
            raise DatabaseMissing(f"the database ({describe_database(url)}) is empty: run `connector sync` first")
    engine = make_engine(url, echo=settings.database.echo)
    try:
        ping_or_explain(engine, url)
        if prepare:
            done = prepare_schema(engine, migrate=settings.database.migrates_on_start(serving=serving))
            if done:
                log.info(f"database schema {done}", extra={"database": describe_database(url)})
        elif is_empty(engine):
            raise DatabaseMissing(f"the database ({describe_database(url)}) is empty: run `connector sync` first")
        else:
            ensure_schema_ready(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def ping_or_explain(engine: Engine, url: str) -> None:
    try:
        ping(engine)
    except (OperationalError, DBAPIError) as exc:
        orig = getattr(exc, "orig", None) or exc
        reason = _first_line(orig)
        password = make_url(url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise DatabaseUnavailable(f"cannot reach the database ({describe_database(url)}): {reason}") from None


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


def _window(kind: RunKind, since: dt.datetime | None, until: dt.datetime | None) -> tuple[
    dt.datetime | None, dt.datetime | None
]:
    """The backfill window `[since, until)` in UTC; a `ConfigError` if it is missing or empty."""
    if kind == "backfill" and since is None:
        raise ConfigError("backfill needs --since")
    since, until = _as_utc(since), _as_utc(until)
    if since is not None and until is not None and until <= since:
        raise ConfigError("backfill window is empty: --until must be after --since")
    return since, until


@contextmanager
def _engine_for(settings: Settings, engine: Engine | None) -> Iterator[Engine]:
    """The caller's engine as is, or one opened for this run and disposed after it."""
    if engine is not None:
        yield engine
        return
    owned = open_engine(settings, prepare=True)
    try:
        yield owned
    finally:
        owned.dispose()


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
    from connector.ledger.payouts import load_payouts
    from connector.mapping.outbound import load_reward_body
    from connector.rules.program import load_program

    since, until = _window(kind, since, until)
    program = load_program(settings.program.file)
    require_api_keys(settings)
    require_fingerprint_key(settings)  # never fingerprint tax ids with an empty or published key
    load_payouts(settings)  # a bad FX rate file stops the run before it starts, naming the file and line
    load_reward_body(settings)  # the outbound body's mapping fails the run before any request
    with (
        _engine_for(settings, engine) as run_engine,
        run_lock(run_engine, settings.lock.ttl_seconds) as lock,
        fenced(run_engine, lock, settings.lock.heartbeat_seconds) as fence,
    ):
        sessions = session_factory(run_engine)
        fence.guard(sessions)  # every commit of the run checks its fencing token
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        ctx = RunContext(
            settings=settings,
            engine=run_engine,
            sessions=sessions,
            run_id=str(uuid.uuid4()),
            kind=kind,
            as_of=_as_utc(as_of) or started,
            since=since,
            until=until,
            progress=progress,
            fence=fence.check,
            full=full,
        )
        set_run_id(ctx.run_id)
        try:
            outcome = _record_start(ctx, program.name, started)
            with _progress_log(ctx):
                _run_stages(ctx, program, fence, outcome, full=full)
            _record_success(ctx, outcome, clock)
        finally:
            set_run_id(None)
        return outcome


@contextmanager
def _progress_log(ctx: RunContext) -> Iterator[None]:
    """In JSON log mode, progress lines every `[log] progress_seconds` beside the caller's hook."""
    if not json_mode():
        yield
        return
    from connector.run.progress import combine, progress_lines

    interval = ctx.settings.log.progress_seconds
    caller = ctx.progress
    clock = time.monotonic()
    with progress_lines(interval) as lines:
        ctx.progress = combine(caller, lines.hook)
        try:
            yield
        finally:
            ctx.progress = caller
            if time.monotonic() - clock >= interval:  # a run that lasted a tick ends with its totals
                lines.emit()


def _mark_abandoned(session: Session, run_id: str, now: dt.datetime) -> None:
    """Runs still `running` while we hold the lock cannot be alive: their process stopped (killed,
    shut down past its grace, crashed) before recording its end. Say so, rather than `running` forever.
    """
    stale = session.scalars(select(Run).where(Run.status == "running", Run.id != run_id)).all()
    for run in stale:
        run.status = "abandoned"
        run.finished_at = now
        run.error = f"abandoned: its process stopped before the run finished (found by run {run_id})"
        log.warning("marked an unfinished run abandoned", extra={"abandoned_run_id": run.id})


def _record_start(ctx: RunContext, program: str, started: dt.datetime) -> RunOutcome:
    """The `running` run row, committed before any stage, so a crash still leaves a trace
    (and the next run, holding the lock, marks it abandoned)."""
    with transaction(ctx.sessions) as session:
        _mark_abandoned(session, ctx.run_id, started)
        session.add(
            Run(id=ctx.run_id, kind=ctx.kind, program=program, as_of=ctx.as_of, started_at=started,
                status="running", notes=[])
        )
    log.info("run started", extra={"run_id": ctx.run_id, "kind": ctx.kind, "program": program,
                                   "as_of": ctx.as_of.isoformat()})
    return RunOutcome(ctx.run_id, ctx.kind, program, ctx.as_of, started, None, "running")


def _run_stages(ctx: RunContext, program: Program, fence: Fence, outcome: RunOutcome, *, full: bool) -> None:
    """Pull, compute, push, checking the lock is still held between them (the fence's heartbeat
    and guarded commits check within them); a failure marks the run failed with the stage's name
    and raises `RunFailed` (a lost lock: with why, not with whatever it interrupted).

    The stages are looked up at call time (`pull`, `compute` in their modules, `push` here),
    so the bench's stage clock and the tests can wrap them.
    """
    stage = "pull"
    try:
        from connector.ledger.compute import compute
        from connector.pull import pull
        from connector.run.ratewarn import warn_unknown_rates

        outcome.pulled = _pulled_counts(pull(ctx))
        fence.check()
        stage = "compute"
        # a scheduled sync recomputes only what can have changed; backfill and demo run full
        outcome.compute = compute(ctx, program, incremental=ctx.kind == "sync" and not full)
        warn_unknown_rates(ctx, program)
        fence.check()
        stage = "push"
        outcome.push = push(ctx, program)
    except Exception as exc:
        message = f"{stage} failed: {fence.lost or _first_line(exc)}"
        _finish(ctx, "failed", message)
        log.error("run failed", extra={"run_id": ctx.run_id, "stage": stage, "error": message},
                  exc_info=log.isEnabledFor(logging.DEBUG))
        raise RunFailed(message, run_id=ctx.run_id) from exc


def _record_success(ctx: RunContext, outcome: RunOutcome, clock: float) -> None:  # not money: monotonic seconds
    """Mark the run succeeded and complete `outcome` (`clock`: `time.monotonic()` at the start)."""
    outcome.finished_at = _finish(ctx, "succeeded", None)
    outcome.status = "succeeded"
    outcome.notes = list(ctx.notes)
    outcome.duration_seconds = time.monotonic() - clock
    with ctx.sessions() as session:
        outcome.entries_appended = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.created_run_id == ctx.run_id)
        ) or 0
    log.info("run succeeded", extra={
        "run_id": ctx.run_id, "duration_s": round(outcome.duration_seconds, 3),
        "pulled": sum(outcome.pulled.values()), "entries_appended": outcome.entries_appended,
        "pushed": outcome.push.pushed if outcome.push else 0,
    })


def _finish(ctx: RunContext, status: str, error: str | None) -> dt.datetime:
    finished = dt.datetime.now(dt.UTC)
    try:
        # not fenced: a run that lost the lock still records its own end (it moves no money)
        with transaction(session_factory(ctx.engine)) as session:
            run = session.get(Run, ctx.run_id)
            if run is not None:
                run.status = status
                run.error = error
                run.finished_at = finished
                run.notes = list(ctx.notes)
    except Exception:  # the database may be what failed; the caller still reports the error
        log.exception("could not record the run's end", extra={"run_id": ctx.run_id})
    return finished
