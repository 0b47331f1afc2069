"""Fencing (issue 15): a run that lost the run lock stops, and the run that took it over pays
every reward exactly once, on a platform that ignores idempotency keys (as PartnerStack documents).

PostgreSQL: the backend holding the run's advisory lock is killed (`pg_terminate_backend`) in the
middle of its push. With a quick heartbeat the run notices alone and stops (exit 1, one line);
with a slow one a second `connector sync` starts at once, takes the lock and the next fencing
token, and the first run's next reward request and commit find the token moved.
SQLite: the first run is frozen (SIGSTOP) mid-push past its lease's expiry, a second run takes the
lock over and pushes, and the first is thawed while the second is still pushing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from connector.store.db import make_engine
from connector.store.models import LedgerEntry, RunLease, RunLock
from sandbox.server import SandboxServer
from tests.conftest import on_postgres

from ..conftest import child_env
from .conftest import AS_OF, CONNECTOR, REPO, assert_rewards_match_ledger, config_file, platform_rewards, run_cli
from .medium import medium_scenario

SLOW = "slow=1,slow_seconds=0.04,seed=3"  # every request takes 40 ms: a push of ~100 rewards lasts seconds


def _world(tmp_path: Path) -> Path:
    path = tmp_path / "fence-world.json"
    path.write_text(json.dumps(medium_scenario(partners=60, invoices_per_customer=6, referred_every=2)))
    return path


def _config(tmp_path: Path, database_url: str, sandbox: SandboxServer, **lock: Any) -> Path:
    return config_file(tmp_path, database_url, sandbox, partnerstack={"push_concurrency": 1}, lock=lock)


def _start_sync(config: Path) -> subprocess.Popen[str]:
    env = child_env(PYTHONPATH=str(REPO))
    return subprocess.Popen([*CONNECTOR, "sync", "--config", str(config), "--as-of", AS_OF], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_rewards(sandbox: SandboxServer, at_least: int, proc: subprocess.Popen[str], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = len(platform_rewards(sandbox))
        if count >= at_least:
            return count
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} rewards pushed in {timeout}s")


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr[-3000:]
    return [line for line in stderr.splitlines() if line.startswith("connector: error: ")]


def _assert_each_reward_once(engine: Engine, sandbox: SandboxServer) -> tuple[int, int]:
    rewards = platform_rewards(sandbox)
    with Session(engine) as session:
        statuses = Counter(session.scalars(select(LedgerEntry.status)))
        pushed = statuses["pushed"]
    assert statuses["payable"] == 0, statuses  # nothing left behind
    assert len(rewards) == pushed  # no duplicate: one reward per pushed entry
    assert_rewards_match_ledger(engine, sandbox)
    return len(rewards), pushed


def _kill_lock_backend(database_url: str) -> int:
    """Terminate the backend holding this schema's run advisory lock; its pid."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            key = conn.execute(text("SELECT hashtext(current_schema() || '/referral-connector-run')::bigint")).scalar()
            pid = conn.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key}).scalar()
            assert pid is not None, "no backend holds the run lock"
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
            return int(pid)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's advisory lock and its backend")
def test_a_killed_lock_session_stops_the_run_alone(tmp_path: Path, database_url: str, engine: Engine) -> None:
    with SandboxServer(_world(tmp_path), faults=SLOW) as sandbox:
        config = _config(tmp_path, database_url, sandbox, heartbeat_seconds=0.5)
        first = _start_sync(config)
        before = _wait_rewards(sandbox, 10, first)
        _kill_lock_backend(database_url)
        killed = time.monotonic()
        _out, err = first.communicate(timeout=120)
        noticed = time.monotonic() - killed
        at_stop = len(platform_rewards(sandbox))
        assert first.returncode == 1, err[-3000:]
        (line,) = _error_lines(err)
        assert line.startswith("connector: error: push failed: lost the run lock: its PostgreSQL session ended")
        again = run_cli("sync", "--config", str(config), "--as-of", AS_OF)
        assert again.returncode == 0, again.stderr[-3000:]
        rewards, pushed = _assert_each_reward_once(engine, sandbox)
    assert noticed < 5
    print(f"lock session killed after {before} rewards: the run stopped alone {noticed:.2f}s later "
          f"with {at_stop} rewards sent; the next sync finished: {rewards} rewards for {pushed} pushed entries")


@pytest.mark.slow
@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's advisory lock and its backend")
def test_a_second_sync_after_the_lock_session_died_pays_each_reward_once(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with SandboxServer(_world(tmp_path), faults=SLOW) as sandbox:
        # a heartbeat slower than the whole test: only the fencing token can stop the first run
        config = _config(tmp_path, database_url, sandbox, heartbeat_seconds=600)
        first = _start_sync(config)
        before = _wait_rewards(sandbox, 10, first)
        _kill_lock_backend(database_url)
        second = run_cli("sync", "--config", str(config), "--as-of", AS_OF)  # starts at once: the lock is free
        _out, err = first.communicate(timeout=120)
        assert second.returncode == 0, second.stderr[-3000:]
        assert first.returncode == 1, err[-3000:]
        (line,) = _error_lines(err)
        assert "lost the run lock: another run took it over (fencing token 1, now 2)" in line
        rewards, pushed = _assert_each_reward_once(engine, sandbox)
        with Session(engine) as session:
            assert session.scalar(select(RunLease.token)) == 2
    print(f"lock session killed after {before} rewards, a second sync at once: first exit 1 ({line}), "
          f"second exit 0; {rewards} rewards for {pushed} pushed entries, 0 duplicates")


@pytest.mark.slow
@pytest.mark.skipif(on_postgres(), reason="SQLite's lock row with an expiry")
def test_a_frozen_run_past_its_sqlite_lease_pays_nothing_twice(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with SandboxServer(_world(tmp_path), faults=SLOW) as sandbox:
        config = _config(tmp_path, database_url, sandbox, ttl_seconds=10)
        first = _start_sync(config)
        before = _wait_rewards(sandbox, 10, first)
        os.kill(first.pid, signal.SIGSTOP)  # a frozen VM, a long GC pause, a stopped container
        frozen = time.monotonic()
        try:
            with Session(engine) as session:
                expires = session.scalars(select(RunLock.expires_at)).one()
            import datetime as dt

            time.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
            second = _start_sync(config)
            _wait_rewards(sandbox, before + 10, second)  # the second run is pushing
        finally:
            os.kill(first.pid, signal.SIGCONT)
        thawed = time.monotonic()
        _out, err = first.communicate(timeout=120)
        stopped = time.monotonic() - thawed
        second_out, second_err = second.communicate(timeout=120)
        assert second.returncode == 0, second_err[-3000:]
        assert first.returncode == 1, err[-3000:]
        (line,) = _error_lines(err)
        assert "lost the run lock:" in line
        rewards, pushed = _assert_each_reward_once(engine, sandbox)
    print(f"SQLite, ttl 10 s: first run frozen after {before} rewards for {thawed - frozen:.1f}s, a second run "
          f"took the lock over; thawed mid-push, the first stopped {stopped:.2f}s later ({line}); "
          f"{rewards} rewards for {pushed} pushed entries, 0 duplicates")
