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
from pathlib import Path
from typing import Any

import pytest

from connector.store.db import make_engine
from sandbox.server import SandboxServer

from ..conftest import child_env
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
from .medium import medium_scenario

SCENARIO = SCENARIOS / "consio-example.json"
KILLS = 20
SEED = 20260630


def crash_loop(config: Path, out_dir: Path, *, kills: int, points: int, in_push: bool = False) -> list[dict[str, Any]]:
    """The children's outcomes, one per run, the last one a run to the end."""
    job = {"config": str(config), "as_of": AS_OF, "out_dir": str(out_dir), "kills": kills, "points": points,
           "seed": SEED, "in_push": in_push}
    env = child_env()
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


def _clean_run(tmp_path: Path, scenario: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]], Counter[Any]]:
    with SandboxServer(scenario) as clean_sandbox, extra_database(tmp_path, "clean") as clean_url:
        (clean,) = crash_loop(config_file(tmp_path, clean_url, clean_sandbox), tmp_path / "clean", kills=0, points=0)
        clean_engine = make_engine(clean_url)
        clean_ledger = ledger_rows(clean_engine)
        clean_engine.dispose()
        clean_rewards = reward_counts(clean_sandbox)
    assert [row[3] for row in clean_ledger if row[5] == "pushed"] != []
    return clean, clean_ledger, clean_rewards


@pytest.mark.slow
def test_twenty_kills_in_a_row_end_in_the_clean_runs_state(tmp_path: Path, database_url: str) -> None:
    clean, clean_ledger, clean_rewards = _clean_run(tmp_path, SCENARIO)
    assert sorted(amount for _key, amount in clean_rewards) == [-10000, 20000, 20000]
    with SandboxServer(SCENARIO) as sandbox:
        runs = crash_loop(config_file(tmp_path, database_url, sandbox), tmp_path / "crashes", kills=KILLS,
                          points=clean["points"])
        _assert_clean_state(database_url, sandbox, clean_ledger, clean_rewards)
    killed = [r for r in runs if r["exit"] == -signal.SIGKILL]
    assert len(killed) == KILLS and runs[-1]["exit"] == 0
    print(f"crash-anywhere: {len(killed)} kills survived, {len(runs) - len(killed)} runs completed, "
          f"kill points {sorted(r['kill_at'] for r in killed)} of {clean['points']}")


@pytest.mark.slow
def test_twenty_kills_during_push_leave_every_reward_once(tmp_path: Path, database_url: str) -> None:
    """Each kill lands inside a push (counted from the push stage's start) of a world with ~100 rewards
    to send, on a platform that ignores idempotency keys: still each reward exactly once."""
    scenario = tmp_path / "push-heavy.json"
    scenario.write_text(json.dumps(medium_scenario(partners=60, invoices_per_customer=6, referred_every=2)))
    clean, clean_ledger, clean_rewards = _clean_run(tmp_path, scenario)
    span = clean["points"] - clean["push_start"]
    assert sum(clean_rewards.values()) >= 100
    with SandboxServer(scenario) as sandbox:
        runs = crash_loop(config_file(tmp_path, database_url, sandbox), tmp_path / "crashes", kills=KILLS,
                          points=max(2, span // KILLS), in_push=True)
        _assert_clean_state(database_url, sandbox, clean_ledger, clean_rewards)
    killed = [r for r in runs if r["exit"] == -signal.SIGKILL]
    assert len(killed) == KILLS and runs[-1]["exit"] == 0
    print(f"crash-during-push: {len(killed)} kills survived, {len(runs) - len(killed)} runs completed, "
          f"{sum(clean_rewards.values())} rewards, kills at push points {sorted(r['kill_at'] for r in killed)} "
          f"of a {span}-point push")


def _assert_clean_state(database_url: str, sandbox: SandboxServer, clean_ledger: list[tuple[Any, ...]],
                        clean_rewards: Counter[Any]) -> None:  # fmt: skip
    engine = make_engine(database_url)
    try:
        assert ledger_rows(engine) == clean_ledger
        assert reward_counts(sandbox) == clean_rewards  # each reward exactly once: no duplicate, no loss
        assert_rewards_match_ledger(engine, sandbox)
    finally:
        engine.dispose()
