"""Compute reads and reconciles customers in batches, and compares decisions with the stored ones a chunk
at a time: the ledger and the decisions must not depend on either size."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import connector.ledger.compute as engine_module
import connector.rules.reads.state as state_module
from connector.store.db import make_engine
from tests.conftest import fresh_database
from tests.rules.builders import REPO, decisions, entries, load_scenario, run, scenario_rows, t

SCENARIOS = sorted(p for p in (REPO / "tests/scenarios").glob("*.json") if p.stem != "bad-input")


def _ledger(engine: Engine) -> list[tuple[Any, ...]]:
    return [
        (e.entry_key, e.customer_key, e.kind, e.basis_minor, e.rate, e.amount_minor, e.currency, e.status, e.reason,
         list(e.sources), e.event_at, e.payable_at, e.note)
        for e in entries(engine)
    ]  # fmt: skip


def _runs(tmp_path: Path, name: str, doc: dict[str, Any], batch_size: int) -> list[list[tuple[Any, ...]]]:
    """The ledger after a run at `now`, a run a year earlier (take-backs) and one a year later."""
    program = doc["expect"]["program"]
    now = t(doc["now"])
    with fresh_database(tmp_path, name) as url:
        eng = make_engine(url)
        try:
            scenario_rows(doc).save(eng)
            out = []
            for as_of in (now, now - dt.timedelta(days=365), now + dt.timedelta(days=365)):
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(engine_module, "BATCH_SIZE", batch_size)
                    mp.setattr(state_module, "IN_LIST", min(batch_size, state_module.IN_LIST))
                    run(eng, program, as_of)
                out.append(_ledger(eng) + sorted((k, d.decision, d.reason) for k, d in decisions(eng, program).items()))
            return out
        finally:
            eng.dispose()


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_tiny_batches_write_the_same_ledger(tmp_path: Path, path: Path, database_url: str) -> None:
    doc = load_scenario(path)
    if "program" not in (doc.get("expect") or {}):
        pytest.skip("no program to run")
    whole = _runs(tmp_path, "whole", doc, 1_000_000)
    tiny = _runs(tmp_path, "tiny", doc, 2)
    assert tiny == whole
    assert whole[0], "the scenario writes a ledger"
