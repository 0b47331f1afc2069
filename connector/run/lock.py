"""One run at a time, across processes and containers sharing a database.

PostgreSQL: a session-level advisory lock on a connection held for the whole run; it
vanishes with the connection, so a killed run never leaves it behind. The key includes
the current schema, so two connectors on separate schemas do not block each other.

SQLite has no advisory locks: a `run_lock` row with a holder and an expiry, written in a
`BEGIN IMMEDIATE` transaction so two processes cannot both see it free. A run that died
without releasing it blocks others only until the expiry, after which it may be taken over,
or not at all when the holder ran on this host and its process no longer exists.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.exc import DBAPIError

from connector.store.models import RunLock

log = logging.getLogger(__name__)

LOCK_NAME = "run"
_PG_LOCK_KEY = "hashtext(current_schema() || :suffix)"
_PG_LOCK_PARAMS = {"suffix": "/referral-connector-run"}


class LockHeld(Exception):
    """Another run holds the lock; the CLI exits 3."""


def _holder_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True when the holder ran on this host and its process is gone (e.g. `kill -9`).

    Why: a killed run cannot release its SQLite lock row; waiting out the expiry would block
    every scheduled run for up to the TTL. Holders on other hosts are never judged here.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:30] or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but is not ours to signal: alive
        return False
    return False


class RunLockHandle:
    """The held lock; `keep_alive` (the fence's heartbeat) says whether it is still held."""

    def __init__(self, engine: Engine, holder: str, ttl_seconds: int, pg_conn: Connection | None) -> None:
        self.engine = engine
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        self._pg_conn = pg_conn
        # monotonic time at or before which the SQLite lease's current expiry was computed
        self.renewed = time.monotonic()

    def seconds_left(self) -> float | None:  # not money: seconds
        """How long the SQLite lease is surely ours (by this process's clock); None on PostgreSQL,
        whose lock lasts as long as its session (`keep_alive` watches that)."""
        if self._pg_conn is not None:
            return None
        return self.renewed + self.ttl_seconds - time.monotonic()

    def refresh(self) -> bool:
        """Push a SQLite lock's expiry out; False when the row is no longer ours (taken over)."""
        if self._pg_conn is not None:
            return True
        start = time.monotonic()
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.ttl_seconds)
        with self.engine.begin() as conn:
            done = conn.execute(
                RunLock.__table__.update()  # type: ignore[attr-defined]
                .where(RunLock.name == LOCK_NAME, RunLock.holder == self.holder)
                .values(expires_at=expires)
            )
        if done.rowcount:
            self.renewed = start
        return bool(done.rowcount)

    def keep_alive(self) -> str | None:
        """None while the lock is held (a SQLite lock's expiry is pushed out); else why it is lost.

        PostgreSQL: the advisory lock lives as long as its session; a session that ended (killed
        backend, network cut, server restart) took the lock with it, even if the run's other
        connections reconnect. SQLite: the row is another holder's once it expired and was taken.
        """
        if self._pg_conn is not None:
            try:
                self._pg_conn.execute(text("SELECT 1")).scalar()
                self._pg_conn.rollback()
            except DBAPIError as exc:
                return f"its PostgreSQL session ended ({_first_line(exc.orig or exc)})"
            return None
        try:
            held = self.refresh()
        except DBAPIError as exc:  # e.g. database locked for the whole busy timeout: try again next beat
            log.warning("could not renew the run lock", extra={"error": _first_line(exc.orig or exc)})
            return None
        return None if held else "its lease expired and another run took the lock"

    def release(self) -> None:
        if self._pg_conn is not None:
            try:
                self._pg_conn.execute(text(f"SELECT pg_advisory_unlock({_PG_LOCK_KEY})"), _PG_LOCK_PARAMS)
                self._pg_conn.commit()
            except DBAPIError:  # the session is gone, and the lock with it: nothing left to release
                pass
            finally:
                self._pg_conn.close()
                self._pg_conn = None
            return
        with self.engine.begin() as conn:
            conn.execute(delete(RunLock).where(RunLock.name == LOCK_NAME, RunLock.holder == self.holder))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines and lines[0] else type(exc).__name__


def _acquire_postgres(engine: Engine) -> Connection:
    conn = engine.connect()
    try:
        got = conn.execute(text(f"SELECT pg_try_advisory_lock({_PG_LOCK_KEY})"), _PG_LOCK_PARAMS).scalar()
        conn.commit()  # the lock is session-level; do not sit idle in a transaction for the run
    except BaseException:
        conn.close()
        raise
    if not got:
        conn.close()
        raise LockHeld("another run holds the lock (PostgreSQL advisory lock); try again when it has finished")
    return conn


def _acquire_sqlite(engine: Engine, holder: str, ttl_seconds: int) -> None:
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        # pysqlite starts no transaction before a SELECT; take the write lock explicitly.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            row = conn.execute(select(RunLock.holder, RunLock.expires_at).where(RunLock.name == LOCK_NAME)).first()
            if row is not None:
                expires_at = row.expires_at
                if expires_at.tzinfo is None:
                    expires_at = expires_at.replace(tzinfo=dt.UTC)
                if expires_at > now and not holder_is_dead(row.holder):
                    raise LockHeld(
                        f"another run holds the lock (holder {row.holder}, until {expires_at.isoformat()}); "
                        "try again when it has finished"
                    )
                log.warning(
                    "taking over a stale run lock (expired or its process is gone)",
                    extra={"previous_holder": row.holder},
                )
                conn.execute(delete(RunLock).where(RunLock.name == LOCK_NAME))
            conn.execute(
                RunLock.__table__.insert().values(  # type: ignore[attr-defined]
                    name=LOCK_NAME, holder=holder, expires_at=now + dt.timedelta(seconds=ttl_seconds)
                )
            )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def acquire(engine: Engine, ttl_seconds: int) -> RunLockHandle:
    """Take the run lock or raise `LockHeld` at once (never waits for the other run)."""
    holder = _holder_id()
    if engine.dialect.name == "postgresql":
        return RunLockHandle(engine, holder, ttl_seconds, _acquire_postgres(engine))
    started = time.monotonic()
    _acquire_sqlite(engine, holder, ttl_seconds)
    handle = RunLockHandle(engine, holder, ttl_seconds, None)
    handle.renewed = started
    return handle


@contextmanager
def run_lock(engine: Engine, ttl_seconds: int) -> Iterator[RunLockHandle]:
    handle = acquire(engine, ttl_seconds)
    try:
        yield handle
    finally:
        try:
            handle.release()
        except Exception as exc:  # a failed release must not hide the run's own error; one line, no
            # traceback (a chained statement error would print its rows)
            log.warning("could not release the run lock", extra={"error": _first_line(exc)})
