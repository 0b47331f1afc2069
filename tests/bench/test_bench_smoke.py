"""The benchmark's whole pipeline at the tiny XS size, so `bench/run` cannot rot.

No timing is asserted (timings stay out of pass/fail): only that every phase ran, the JSON it writes
has the expected keys, and every figure is a sane non-negative number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.generate import change_set, counts, generate
from bench.measure import render_table, run_benchmark, write_json
from tests.conftest import on_postgres, pg_base_url

PHASES = ("backfill", "initial_sync", "incremental_nochange", "incremental_1pct", "recompute")


def _numbers(node: Any) -> list[float]:
    if isinstance(node, bool):
        return []
    if isinstance(node, (int, float)):
        return [node]
    if isinstance(node, dict):
        return [n for v in node.values() for n in _numbers(v)]
    if isinstance(node, list):
        return [n for v in node for n in _numbers(v)]
    return []


def test_generator_is_deterministic_and_sized() -> None:
    first, again = generate("XS", seed=3), generate("XS", seed=3)
    assert first == again
    assert generate("XS", seed=4) != first
    sizes = counts(first)
    assert sizes["partnerstack.partnerships"] == 5
    assert sizes["stripe.customers"] == 20
    assert sizes["stripe.invoices"] == 240
    lines = [len(i["lines"]) for i in first["stripe"]["invoices"]]
    assert min(lines) >= 1 and max(lines) <= 4
    change = change_set("XS", seed=3)
    assert len(change["stripe"]["invoices"]) == 1


@pytest.mark.slow
def test_benchmark_pipeline_writes_complete_json(database_url: str, tmp_path: Path) -> None:
    kind = "postgres" if on_postgres() else "sqlite"
    base = pg_base_url() or ""
    result = run_benchmark("XS", databases=(kind,), pg_base=base)
    path = write_json(result, tmp_path / "xs.json")
    loaded = json.loads(path.read_text())

    assert loaded["size"] == "XS"
    assert set(loaded["ceiling"]) == {"fetch_sequential", "fetch_parallel", "replay", "post_replay"}
    # the push ceiling replays exactly the backfill's POSTs: one per reward it pushed
    assert loaded["ceiling"]["post_replay"]["requests"] == loaded["databases"][kind]["backfill"]["pushed"] > 0
    assert loaded["scenario"]["total_records"] == sum(loaded["scenario"]["records"].values())
    db = loaded["databases"][kind]
    for phase in PHASES:
        assert db[phase]["seconds"] >= 0, phase
        assert db[phase]["peak_rss_mb"] > 0, phase
    for phase in PHASES[:-1]:
        assert db[phase]["status"] == "succeeded", phase
    # a record read twice (overlapping windows) counts twice in `pulled`; none may be missing
    assert db["backfill"]["records"] >= loaded["scenario"]["total_records"]
    assert db["insert_ceiling"]["rows"] > 0
    assert set(db["ratios"]) >= {"backfill_to_fetch", "backfill_to_fetch_plus_post", "push_to_post",
                                 "backfill_to_insert", "change_to_backfill"}
    assert set(db["targets"]) >= {"backfill_within_1_5x_fetch", "peak_rss_under_500mb"}
    assert loaded["change"]["customers"] == 1
    assert all(n >= 0 for n in _numbers(loaded)), "a negative figure"
    assert render_table(loaded).row_count > 10
