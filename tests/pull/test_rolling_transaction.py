"""A backfill's batches of pages share a transaction (`RollingTransaction`): what is committed when.

Why these cases: sharing one transaction across batches is only safe if it ends when the writer
would wait for the network (no write lock held across a slow response), if a failed batch takes
the uncommitted batches before it with it (nothing half-written), and if a read that saves its
position (`max_seconds` 0) still commits every batch with it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

import connector.pull as sync
from connector.config import Settings
from connector.pull.pages import RollingTransaction
from connector.store.models import SyncCursor
from connector.store.writes import save_cursor
from tests.conftest import on_postgres

from .conftest import MakeCtx


def _committed(engine: Engine) -> list[str]:
    """The cursors another connection can see: what was committed."""
    with Session(engine) as s:
        return sorted(s.scalars(select(SyncCursor.stream)))


def test_batches_share_a_transaction_until_it_is_old_enough_or_committed(engine: Engine, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(Settings())
    with RollingTransaction(ctx, 3600.0) as rolling:
        for name in ("a", "b"):
            with rolling.batch() as session:
                save_cursor(session, name, {"n": 1})
        assert _committed(engine) == []  # both batches in one open transaction
        rolling.commit()  # what the reader calls before it waits for pages
        assert _committed(engine) == ["a", "b"]
        with rolling.batch() as session:
            save_cursor(session, "c", {"n": 1})
        assert _committed(engine) == ["a", "b"]
    assert _committed(engine) == ["a", "b", "c"]  # the end commits what is left


def test_no_age_commits_every_batch(engine: Engine, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(Settings())
    with RollingTransaction(ctx, 0.0) as rolling:
        with rolling.batch() as session:
            save_cursor(session, "a", {"n": 1})
        assert _committed(engine) == ["a"]


def test_a_failed_batch_rolls_back_the_uncommitted_ones_before_it(engine: Engine, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(Settings())
    with pytest.raises(RuntimeError, match="write failed"), RollingTransaction(ctx, 3600.0) as rolling:
        with rolling.batch() as session:
            save_cursor(session, "a", {"n": 1})
        rolling.commit()
        with rolling.batch() as session:
            save_cursor(session, "b", {"n": 1})
        with rolling.batch() as session:
            save_cursor(session, "c", {"n": 1})
            raise RuntimeError("write failed")
    assert _committed(engine) == ["a"]


def test_a_failure_between_batches_keeps_what_was_written(engine: Engine, make_ctx: MakeCtx) -> None:
    """A fetch that failed is raised between batches: the batches written before it are committed,
    as when each batch committed on its own."""
    ctx = make_ctx(Settings())
    with pytest.raises(RuntimeError, match="fetch failed"), RollingTransaction(ctx, 3600.0) as rolling:
        with rolling.batch() as session:
            save_cursor(session, "a", {"n": 1})
        raise RuntimeError("fetch failed")
    assert _committed(engine) == ["a"]


def test_idle_is_called_before_the_writer_waits_for_the_next_batch() -> None:
    """The second item is emitted only once `idle` ran: the writer asked for the next batch, found
    nothing waiting and said so before blocking (else this would never end)."""
    idle_called = threading.Event()

    def task(emit: Any) -> None:
        emit("a")
        assert idle_called.wait(10.0)
        emit("b")

    got = list(sync.run_concurrently_batched([task], 1, max_batch=8, idle=idle_called.set))
    assert got == [["a"], ["b"]]


def test_each_rolling_transaction_is_a_pull_transaction(engine: Engine, make_ctx: MakeCtx) -> None:
    """Opened through `transaction(ctx)`: on PostgreSQL it commits without waiting for the WAL flush,
    the first transaction and the one opened after a commit alike (`tests/pull/test_commit_durability.py`)."""
    ctx = make_ctx(Settings())
    expected = "off" if on_postgres() else None
    with RollingTransaction(ctx, 3600.0) as rolling:
        for _ in range(2):
            with rolling.batch() as session:
                if expected is not None:
                    assert session.execute(text("SHOW synchronous_commit")).scalar_one() == expected
                save_cursor(session, "a", {"n": 1})
            rolling.commit()
    assert _committed(engine) == ["a"]
