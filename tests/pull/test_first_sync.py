"""The first sync after a backfill reads what an incremental run reads, plus the rewards pushed since.

A backfill that read a stream's whole history into a store with no cursor leaves the cursor a
first sync's full read would leave (`connector.pull.handover`); one that did not (a window that
starts after the first record, or ends before the as-of, or a store that has synced) leaves none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from connector.config import Settings
from connector.context import RunContext
from connector.pull import pull
from connector.run.runner import RunOutcome, run_once
from connector.store.db import make_engine, session_factory
from connector.store.models import SyncCursor
from sandbox.server import SandboxServer
from tests.conftest import fresh_database
from tests.pull.conftest import MakeCtx, sandbox_settings
from tests.pull.scenarios import NOW, big
from tests.reliability.conftest import ledger_rows
from tests.run.conftest import make_settings

BEFORE_EVERYTHING = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
CONSIO = Path(__file__).resolve().parents[1] / "scenarios" / "consio.json"  # the program's scenario world
CONSIO_NOW = dt.datetime(2026, 9, 30, tzinfo=dt.UTC)


def _paths(srv: SandboxServer) -> dict[str, int]:
    return dict(httpx.get(f"{srv.url}/_sandbox/stats", timeout=10).json()["paths"])


def _reset(srv: SandboxServer) -> None:
    httpx.post(f"{srv.url}/_sandbox/stats/reset", timeout=10).raise_for_status()


def _cursors(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(select(SyncCursor.stream, SyncCursor.state))}


def _ctx_on(make_ctx: MakeCtx, settings: Settings, engine: Engine, **kw: Any) -> RunContext:
    """A run context on another store than the test's own (the sync-only reference history)."""
    ctx = make_ctx(settings, **kw)
    ctx.engine = engine
    ctx.sessions = session_factory(engine)
    return ctx


def test_first_sync_after_a_backfill_reads_what_a_second_sync_reads(
    engine: Engine, database_url: str, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    with SandboxServer(big(partners=30, invoices=60)) as srv, fresh_database(tmp_path, "synconly") as other_url:
        other = make_engine(other_url)
        try:
            # the sync-only history: a first sync (full read), then a second one
            synced = sandbox_settings(srv, other_url)
            pull(_ctx_on(make_ctx, synced, other))
            _reset(srv)
            second = pull(_ctx_on(make_ctx, synced, other, as_of=NOW + dt.timedelta(hours=1)))
            second_paths = _paths(srv)
            # the backfill history: a backfill of everything, then the first sync
            settings = sandbox_settings(srv, database_url)
            backfill_ctx = make_ctx(settings, kind="backfill", since=BEFORE_EVERYTHING)
            backfilled = pull(backfill_ctx)
            _reset(srv)
            first = pull(make_ctx(settings, as_of=NOW + dt.timedelta(hours=1)))
            first_paths = _paths(srv)
        finally:
            other.dispose()
    assert {k: s.pulled for k, s in first.items()} == {k: s.pulled for k, s in second.items()}
    assert first_paths == second_paths
    # nothing changed upstream: the first sync re-reads only the overlap before each position
    assert sum(s.pulled for s in first.values()) * 20 < sum(s.pulled for s in backfilled.values())
    assert first["stripe.invoices"].pulled == 0 and first["partnerstack.rewards"].pulled == 0
    assert "stripe: the backfill read every object and left the first sync the event log position" in backfill_ctx.notes
    assert any(n.startswith("partnerstack: the backfill read every record of groups, partnerships") for n in
               backfill_ctx.notes)




def test_a_backfill_that_did_not_read_everything_leaves_no_cursor(
    engine: Engine, database_url: str, make_ctx: MakeCtx
) -> None:
    with SandboxServer(big(partners=30, invoices=60)) as srv:
        settings = sandbox_settings(srv, database_url)
        # records exist before `since`: a first sync must still read them
        pull(make_ctx(settings, kind="backfill", since=dt.datetime(2025, 7, 1, tzinfo=dt.UTC)))
        partial = _cursors(engine)
        assert "stripe.events" not in partial  # invoices from 2025-06 were not read
        assert "partnerstack.partnerships" not in partial and "partnerstack.groups" not in partial
        assert "partnerstack.rewards" in partial  # per stream: every reward is newer than `since`
        # the whole history, but a window closed before the as-of: nothing more is left
        pull(make_ctx(settings, kind="backfill", since=BEFORE_EVERYTHING, until=NOW - dt.timedelta(days=1)))
        assert _cursors(engine) == partial
        # a store that has synced: the backfill leaves its cursors as they were
        pull(make_ctx(settings))
        before = _cursors(engine)
        pull(make_ctx(settings, kind="backfill", since=BEFORE_EVERYTHING, as_of=NOW + dt.timedelta(hours=1)))
        assert _cursors(engine) == before


def _history(srv: SandboxServer, url: str, kinds: tuple[str, str]) -> tuple[RunOutcome, dict[str, int], Engine]:
    """Two runs (`kinds`) an hour apart on a fresh sandbox; the second's outcome and requests."""
    settings = make_settings(url, srv, program={"file": "programs/consio.toml"})
    first_kind, second_kind = kinds
    run_once(settings, kind=first_kind, as_of=CONSIO_NOW, since=BEFORE_EVERYTHING if first_kind == "backfill" else None)  # type: ignore[arg-type]
    _reset(srv)
    outcome = run_once(settings, kind=second_kind, as_of=CONSIO_NOW + dt.timedelta(hours=1))  # type: ignore[arg-type]
    return outcome, _paths(srv), make_engine(url)


def test_backfill_then_sync_equals_a_sync_only_history(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """The first sync after a backfill reads the rewards the backfill pushed and nothing else new;
    the ledger is the one two syncs leave, entry by entry."""
    with SandboxServer(CONSIO) as srv:
        after_backfill, backfill_paths, _ = _history(srv, database_url, ("backfill", "sync"))
    with SandboxServer(CONSIO) as srv, fresh_database(tmp_path, "synconly") as other_url:
        after_sync, sync_paths, other = _history(srv, other_url, ("sync", "sync"))
        try:
            reference = ledger_rows(other)
        finally:
            other.dispose()
    assert ledger_rows(engine) == reference
    assert after_backfill.pulled == after_sync.pulled
    assert backfill_paths == sync_paths
    pushed = sum(1 for row in reference if row[5] == "pushed")
    assert pushed > 0
    assert after_backfill.pulled["partnerstack.rewards"] == pushed  # read back: the rewards pushed since
