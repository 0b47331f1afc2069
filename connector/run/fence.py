"""Fencing: a run that lost the run lock cannot write money or cursors, nor send a reward.

The lock (`connector.run.lock`) keeps a second run from starting while the first is alive; it
cannot stop a first run that lost the lock without noticing (its PostgreSQL session killed while
the run's other connections reconnect; a SQLite lease that expired while the process was frozen)
from carrying on beside the run that took the lock over. Without a fence both push, and a
platform without idempotency pays twice.

So each run that takes the lock adds one to the `run_lease` token and keeps its number:

- every transaction of the run's sessions checks, just before it commits, that the token is
  still its own (`SELECT … FOR SHARE` on PostgreSQL, so a takeover waits for a commit in
  flight and every later commit sees the new token); otherwise `LeaseLost` and a rollback;
- before each reward request the outbox calls `check`: the token is read again (on a connection
  the fence keeps for the run, in autocommit);
- a heartbeat thread asks the lock every `[lock] heartbeat_seconds` whether it is still held
  (and pushes a SQLite lease out), so a lost PostgreSQL session stops the run even when no
  other run has started.

A run that loses the lock fails with one line (exit 1); what it committed is consistent, and the
run holding the lock recovers its entries left `sending` by asking the platform first.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.run.lock import LOCK_NAME, RunLockHandle
from connector.store.models import RunLease

log = logging.getLogger(__name__)


_LEASE = RunLease.__table__
_TOKEN = select(_LEASE.c.token).where(_LEASE.c.name == LOCK_NAME)
"""The current fencing token (`check` and the heartbeat read it). On the Table's columns, not the ORM
attributes: the ORM statement of the same cache key (`take`) made every execution adapt its result
columns to the cached compile, which cost more than the query."""


class LeaseLost(Exception):
    """This run no longer holds the run lock; the message says why (one line)."""


class Fence:
    """The fencing token of one run, its heartbeat, and the checks its writes and requests make."""

    def __init__(self, engine: Engine, lock: RunLockHandle, heartbeat_seconds: float) -> None:
        self.engine = engine
        self.lock = lock
        self.interval = min(heartbeat_seconds, lock.ttl_seconds / 3)  # not money: seconds
        # a SQLite lease this close to its expiry sends nothing more (the heartbeat renews at a third)
        self.margin = min(lock.ttl_seconds / 5, 60.0)  # not money: seconds
        self.token = 0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._free: list[Connection] = []  # kept connections for `check`'s reads, not in use (`_read_token`)

    # ------------------------------------------------------------------ take, beat, release

    def take(self) -> int:
        """The next token, now this run's (called right after the lock was taken)."""
        with Session(self.engine) as session, session.begin():
            now = dt.datetime.now(dt.UTC)
            done = session.execute(
                update(RunLease).where(RunLease.name == LOCK_NAME)
                .values(token=RunLease.token + 1, holder=self.lock.holder, taken_at=now)
            )
            if not getattr(done, "rowcount", 0):  # a store whose row was removed by hand: start the count again
                session.add(RunLease(name=LOCK_NAME, token=1, holder=self.lock.holder, taken_at=now))
                session.flush()
            self.token = int(session.scalars(select(RunLease.token).where(RunLease.name == LOCK_NAME)).one())
        log.info("run lock taken", extra={"fencing_token": self.token})
        return self.token

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name="connector-lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                why = self.lock.keep_alive()
                if why is None:
                    why = self._token_moved()
            except Exception as exc:  # a database error is not proof of loss: the writes still check
                log.warning("run lock heartbeat failed", extra={"error": str(exc).splitlines()[0] if str(exc) else
                                                                type(exc).__name__})
                continue
            if why is not None:
                self._lose(why)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def release(self) -> None:
        """Mark the lease free (the token stays: the next run takes the one after it)."""
        if self._lost is not None:
            return
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(RunLease).where(RunLease.name == LOCK_NAME, RunLease.token == self.token)
                .values(holder=None)
            )

    # ------------------------------------------------------------------ checks

    @property
    def lost(self) -> str | None:
        return self._lost

    def _lose(self, why: str) -> None:
        if self._lost is None:
            self._lost = f"lost the run lock: {why}; stopped before writing or sending more"
            log.error("run lock lost", extra={"fencing_token": self.token, "reason": why})

    def _moved(self, current: int | None) -> str | None:
        if current == self.token:
            return None
        return f"another run took it over (fencing token {self.token}, now {current})"

    def _token_moved(self) -> str | None:
        return self._moved(self._read_token())

    def _read_token(self) -> int | None:
        """The token as stored now, read on a connection the fence keeps for the run's reads.

        Why kept: `check` runs before every reward request, from each of the push's lanes. A Core
        statement, not an ORM Session (whose setup cost more CPU than the POST itself); and not a
        pool checkout per read either: on PostgreSQL each checkout pinged its connection first
        (`pool_pre_ping`, a `SELECT 1` round trip), and every return rolled back. A read takes a
        free kept connection (or opens one) and puts it back, so the fence keeps as many as reads
        ever ran at once (the lanes, the heartbeat, the main thread), however many pools of lanes
        a run starts. They are in autocommit, so no read transaction stays open between requests
        (a SQLite snapshot, a PostgreSQL "idle in transaction"): each read sees the latest
        committed token. One that broke (a killed session) is closed and the read made once more
        on a fresh one, which the pool pings as before.
        """
        try:
            conn = self._free.pop()  # list.pop/append are atomic: no two threads get the same one
        except IndexError:
            conn = None
        if conn is not None:
            try:
                token = conn.execute(_TOKEN).scalar()
            except Exception:  # e.g. its session was killed: read once more on a fresh one
                _close_quietly(conn)
            else:
                self._free.append(conn)
                return token
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            token = conn.execute(_TOKEN).scalar()
        except BaseException:
            _close_quietly(conn)
            raise
        self._free.append(conn)
        return token

    def close_reads(self) -> None:
        """Return the kept read connections to the pool (at the end of the run)."""
        while self._free:
            _close_quietly(self._free.pop())

    def check(self) -> None:
        """Raise `LeaseLost` unless this run still holds the lock (read from the store, not assumed).

        Called right before each reward request leaves (after the rate limiter's wait): a request,
        unlike a write, cannot be rolled back. Last, and without a query, a SQLite lease whose
        renewal is overdue by this process's own clock stops it: a process frozen past its expiry
        (another run may have taken the lock and already asked the platform) sends nothing on waking.
        """
        if self._lost is None:
            why = self._token_moved()
            if why is not None:
                self._lose(why)
        left = self.lock.seconds_left()
        if self._lost is None and left is not None and left < self.margin:
            self._lose(f"its lease was not renewed in time ({max(left, 0.0):.1f}s left of {self.lock.ttl_seconds}s)")
        if self._lost is not None:
            raise LeaseLost(self._lost)

    def check_in(self, session: Session) -> None:
        """Raise `LeaseLost` unless the token is still ours, read in `session`'s own transaction."""
        if self._lost is not None:
            raise LeaseLost(self._lost)
        current = session.execute(
            select(RunLease.token).where(RunLease.name == LOCK_NAME).with_for_update(read=True)
        ).scalar()
        why = self._moved(current)
        if why is not None:
            self._lose(why)
            raise LeaseLost(self._lost)

    def guard(self, sessions: sessionmaker[Session]) -> None:
        """Every commit of a session from `sessions` checks the token first (`check_in`)."""

        def before_commit(session: Session) -> None:
            self.check_in(session)

        event.listen(sessions, "before_commit", before_commit)


@contextmanager
def fenced(engine: Engine, lock: RunLockHandle, heartbeat_seconds: float) -> Iterator[Fence]:
    """A fence for the run holding `lock`: token taken, heartbeat running until the block ends."""
    fence = Fence(engine, lock, heartbeat_seconds)
    fence.take()
    fence.start()
    try:
        yield fence
    finally:
        fence.stop()
        fence.close_reads()
        try:
            fence.release()
        except Exception as exc:  # the run's own error (if any) is what matters
            log.warning("could not release the fencing lease", extra={"error": _line(exc)})


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except Exception as exc:  # already broken: nothing more to release
        log.debug("closing a fence connection failed", extra={"error": _line(exc)})


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


__all__ = ["Fence", "LeaseLost", "fenced"]

