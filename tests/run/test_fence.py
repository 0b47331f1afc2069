"""The fencing token (issue 15): each run that takes the lock gets the next token; once another
run has taken it, a commit of the old run's sessions and its pre-request check both fail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from connector.run.fence import Fence, LeaseLost, fenced
from connector.run.lock import acquire
from connector.store.db import session_factory
from connector.store.models import RunLease, SyncCursor


def test_tokens_increase_and_a_taken_over_run_can_neither_commit_nor_send(engine: Engine) -> None:
    lock = acquire(engine, ttl_seconds=60)
    with fenced(engine, lock, heartbeat_seconds=600) as first:
        assert first.token == 1
        sessions = session_factory(engine)
        first.guard(sessions)
        with sessions() as session, session.begin():  # holder: commits go through
            session.add(SyncCursor(stream="s1", state={"after": "a"}))
        first.check()
        # another run takes the lock over (its process saw this one as gone) and the next token
        with Session(engine) as session, session.begin():
            session.execute(update(RunLease).values(token=RunLease.token + 1, holder="other"))
        moved = r"another run took it over \(fencing token 1, now 2\)"
        with pytest.raises(LeaseLost, match=moved), sessions() as session, session.begin():
            session.add(SyncCursor(stream="s2", state={"after": "b"}))
        with pytest.raises(LeaseLost):
            first.check()
    lock.release()
    with Session(engine) as session:
        assert set(session.scalars(select(SyncCursor.stream))) == {"s1"}  # the fenced write rolled back
        assert session.scalars(select(RunLease.holder)).one() == "other"  # the lost run released nothing
    second = acquire(engine, ttl_seconds=60)
    fence = Fence(engine, second, heartbeat_seconds=600)
    assert fence.take() == 3
    fence.release()
    second.release()


def test_checks_from_many_threads_keep_few_connections_and_see_a_takeover(engine: Engine) -> None:
    """`check` reads on connections the fence keeps (no pool checkout per request): as many as ran at
    once, returned at the end; one that broke is replaced; a takeover committed after a read is seen
    by the next read on the same connection (autocommit: no snapshot held between reads)."""
    lock = acquire(engine, ttl_seconds=60)
    checked_out = engine.pool.checkedout()  # type: ignore[attr-defined]
    with fenced(engine, lock, heartbeat_seconds=600) as fence:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for _ in range(3):
                assert list(pool.map(lambda _i: fence.check(), range(40))) == [None] * 40
        assert 1 <= len(fence._free) <= 4
        kept = list(fence._free)
        fence._free[-1].invalidate()  # its session gone: the next read closes it and opens another
        fence.check()
        assert len(fence._free) == len(kept)
        assert engine.pool.checkedout() == checked_out + len(kept)  # type: ignore[attr-defined]
        with Session(engine) as session, session.begin():
            session.execute(update(RunLease).values(token=RunLease.token + 1, holder="other"))
        with pytest.raises(LeaseLost, match=r"fencing token 1, now 2"):
            fence.check()
    assert fence._free == []
    assert engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]
    lock.release()
