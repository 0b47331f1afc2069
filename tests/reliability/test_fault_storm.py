"""Fault storm: 20 % 429 (with Retry-After), 5 % 5xx, 2 % dropped connections, 1 % truncated
bodies on every API request, pushes included, and 30 % `commit-then-drop` on every POST (the
reward is stored, the answer never arrives); the sandbox ignores `Idempotency-Key`, as PartnerStack
documents none. The run must end exactly where a fault-free run ends: the same ledger (keys,
amounts, statuses) and each reward on the platform once.

Small pages multiply the requests, so every kind of fault is drawn many times per run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from connector.config import Settings
from connector.run.runner import run_once
from connector.store.db import make_engine
from sandbox.server import SandboxServer

from ..run.conftest import settings_values
from .conftest import (
    SCENARIOS,
    assert_rewards_match_ledger,
    extra_database,
    ledger_rows,
    reward_counts,
    sandbox_stats,
)

STORM = "429=0.2,5xx=0.05,drop=0.02,truncate=0.01,commit-then-drop=0.3,seed=7"
CASES = [
    ("consio.json", "programs/consio.toml"),
    ("connectus.json", "programs/connectus.toml"),
    ("netsource.json", "programs/netsource.toml"),
    ("tech-consultant.json", "programs/tech-consultant.toml"),
]


def storm_settings(database_url: str, server: SandboxServer, program: str) -> Settings:
    return Settings(**settings_values(
        database_url, server,
        program={"file": program},
        http={"max_attempts": 12},
        partnerstack={"page_size": 2},
        stripe={"page_size": 2},
    ))


def scenario_now(name: str) -> dt.datetime:
    doc: dict[str, Any] = json.loads((SCENARIOS / name).read_text(encoding="utf-8"))
    return dt.datetime.fromisoformat(doc["now"].replace("Z", "+00:00"))


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "program"), CASES, ids=[c[0].removesuffix(".json") for c in CASES])
def test_fault_storm_ends_exactly_like_a_fault_free_run(
    tmp_path: Path, database_url: str, scenario: str, program: str
) -> None:
    as_of = scenario_now(scenario)
    with SandboxServer(SCENARIOS / scenario) as calm, extra_database(tmp_path, "calm") as calm_url:
        run_once(storm_settings(calm_url, calm, program), as_of=as_of)
        calm_engine = make_engine(calm_url)
        expected_ledger = ledger_rows(calm_engine)
        calm_engine.dispose()
        expected_rewards = reward_counts(calm)
    assert expected_ledger, "the scenario must produce ledger entries"

    with SandboxServer(SCENARIOS / scenario, faults=STORM) as stormy:
        settings = storm_settings(database_url, stormy, program)
        run_once(settings, as_of=as_of)
        run_once(settings, as_of=as_of)  # an incremental run in the same storm changes nothing
        stats = sandbox_stats(stormy)
        engine = make_engine(database_url)
        try:
            assert ledger_rows(engine) == expected_ledger
            assert reward_counts(stormy) == expected_rewards
            assert_rewards_match_ledger(engine, stormy)
        finally:
            engine.dispose()
    faults = stats["faults"]
    assert faults.get("429", 0) > 0 and faults.get("5xx", 0) > 0, faults
    assert sum(faults.values()) >= 0.2 * stats["total"], stats
    print(f"fault-storm {scenario}: {stats['total']} requests, faults injected {faults}, "
          f"{len(expected_ledger)} entries, {sum(expected_rewards.values())} rewards, 0 duplicates, 0 lost")
