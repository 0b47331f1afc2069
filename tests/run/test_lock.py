"""One run at a time: a second run is refused at once; a dead SQLite holder's lock expires."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from connector.run.lock import LockHeld, acquire, run_lock
from connector.store.db import make_engine
from connector.store.models import RunLock
from tests.conftest import on_postgres


def test_second_holder_is_refused_until_release(database_url: str, engine: Engine) -> None:
    other = make_engine(database_url)  # a separate pool, as a second process would have
    try:
        with run_lock(engine, ttl_seconds=60), pytest.raises(LockHeld, match="another run holds the lock"):
            acquire(other, ttl_seconds=60)
        handle = acquire(other, ttl_seconds=60)  # released: free again
        handle.release()
    finally:
        other.dispose()


def test_lock_is_released_when_the_run_raises(engine: Engine) -> None:
    with pytest.raises(RuntimeError), run_lock(engine, ttl_seconds=60):
        raise RuntimeError("boom")
    acquire(engine, ttl_seconds=60).release()


@pytest.mark.skipif(on_postgres(), reason="the expiry row is SQLite's lock; PostgreSQL's dies with its connection")
def test_expired_sqlite_lock_may_be_taken_over(engine: Engine) -> None:
    stale = acquire(engine, ttl_seconds=60)
    with pytest.raises(LockHeld):
        acquire(engine, ttl_seconds=60)
    with Session(engine) as session, session.begin():
        session.execute(update(RunLock).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    fresh = acquire(engine, ttl_seconds=60)
    with Session(engine) as session:
        assert session.scalars(select(RunLock.holder)).all() == [fresh.holder]
    stale.release()  # a late release by the old holder must not free the new holder's lock
    with pytest.raises(LockHeld):
        acquire(engine, ttl_seconds=60)
    fresh.release()


@pytest.mark.skipif(on_postgres(), reason="SQLite lock row")
def test_refresh_moves_the_expiry(engine: Engine) -> None:
    handle = acquire(engine, ttl_seconds=60)
    with Session(engine) as session, session.begin():
        session.execute(update(RunLock).values(expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)))
    handle.refresh()
    with Session(engine) as session:
        expires = session.scalars(select(RunLock.expires_at)).one()
    assert expires > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=50)
    handle.release()


@pytest.mark.skipif(on_postgres(), reason="SQLite lock row")
def test_lock_of_a_killed_process_on_this_host_is_taken_over(engine: Engine) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_holder = f"{socket.gethostname()[:30]}:{int(gone.stdout)}:deadbeef"
    with Session(engine) as session, session.begin():
        session.add(RunLock(name="run", holder=dead_holder,
                            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
    handle = acquire(engine, ttl_seconds=60)
    with Session(engine) as session:
        assert session.scalars(select(RunLock.holder)).all() == [handle.holder]
    handle.release()
