"""Crash anywhere: `kill -9` of a real `connector sync` process at 20 random points in a row.

`killhook/crashloop.py` runs `connector sync` in forked children; `killhook/killpoints.py`
numbers every commit and HTTP request of a child and SIGKILLs it at the Nth, N drawn from a
seeded RNG over the points a clean run passes, so pull, compute and push are all hit,
reproducibly. After each kill the connector is simply started again. The end state must
equal a clean run's: the same ledger, every reward on the platform exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.store.db import make_engine
from sandbox.server import SandboxServer

from .conftest import (
    AS_OF,
    KILLHOOK_DIR,
    REPO,
    SCENARIOS,
    assert_rewards_match_ledger,
    config_file,
    extra_database,
    ledger_rows,
    reward_counts,
)

SCENARIO = SCENARIOS / "consio-example.json"
KILLS = 20
SEED = 20260630


def crash_loop(config: Path, out_dir: Path, *, kills: int, points: int, low: int = 1) -> list[dict[str, Any]]:
    """The children's outcomes, one per run, the last one a run to the end."""
    job = {"config": str(config), "as_of": AS_OF, "out_dir": str(out_dir), "kills": kills, "points": points,
           "seed": SEED, "low": low}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["PYTHONPATH"] = os.pathsep.join([str(KILLHOOK_DIR), str(REPO)])
    done = subprocess.run([sys.executable, str(KILLHOOK_DIR / "crashloop.py"), json.dumps(job)], env=env,
                          capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for run in runs:
        log = Path(run["log"]).read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in log, log[-3000:]
        if run["exit"] != -signal.SIGKILL:
            assert run["exit"] == 0, log[-3000:]  # a restart after a kill never fails, never finds the lock held
    return runs


def _clean_run(tmp_path: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]], Counter[tuple[str, int]]]:
    with SandboxServer(SCENARIO) as clean_sandbox, extra_database(tmp_path, "clean") as clean_url:
        (clean,) = crash_loop(config_file(tmp_path, clean_url, clean_sandbox), tmp_path / "clean", kills=0, points=0)
        clean_engine = make_engine(clean_url)
        clean_ledger = ledger_rows(clean_engine)
        clean_engine.dispose()
        clean_rewards = reward_counts(clean_sandbox)
    assert [row[3] for row in clean_ledger if row[5] == "pushed"] != []
    assert sorted(amount for _key, amount in clean_rewards) == [-10000, 20000, 20000]
    return clean, clean_ledger, clean_rewards


def _kill_loop(tmp_path: Path, database_url: str, *, low_of: Callable[[dict[str, Any]], int]) -> list[dict[str, Any]]:
    clean, clean_ledger, clean_rewards = _clean_run(tmp_path)
    with SandboxServer(SCENARIO) as sandbox:
        runs = crash_loop(config_file(tmp_path, database_url, sandbox), tmp_path / "crashes", kills=KILLS,
                          points=clean["points"], low=low_of(clean))
        engine = make_engine(database_url)
        try:
            assert ledger_rows(engine) == clean_ledger
            assert reward_counts(sandbox) == clean_rewards  # each reward exactly once: no duplicate, no loss
            assert_rewards_match_ledger(engine, sandbox)
        finally:
            engine.dispose()
    killed = [r for r in runs if r["exit"] == -signal.SIGKILL]
    assert len(killed) == KILLS and runs[-1]["exit"] == 0
    print(f"crash-anywhere: {len(killed)} kills survived, {len(runs) - len(killed)} runs completed, "
          f"kill points {sorted(r['kill_at'] for r in killed)} of {clean['points']} (push from {clean['push_start']})")
    return runs


@pytest.mark.slow
def test_twenty_kills_in_a_row_end_in_the_clean_runs_state(tmp_path: Path, database_url: str) -> None:
    _kill_loop(tmp_path, database_url, low_of=lambda clean: 1)


@pytest.mark.slow
def test_twenty_kills_during_push_leave_every_reward_once(tmp_path: Path, database_url: str) -> None:
    """Every kill lands in the push stage (between its first crash point and the clean run's last),
    with a platform that ignores idempotency keys: still each reward exactly once."""
    runs = _kill_loop(tmp_path, database_url, low_of=lambda clean: int(clean["push_start"]) + 1)
    assert all(r["kill_at"] > 0 for r in runs[:-1])
