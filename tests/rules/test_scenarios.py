"""Each program's example scenario, computed from canonical rows (fast) and through the real pull (e2e)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connector.config import Settings
from connector.context import RunContext
from connector.ledger.compute import compute
from connector.rules.program import bundled_program_path, load_program
from connector.store.db import session_factory
from tests.rules.builders import REPO, entries, fx_settings, load_scenario, run, scenario_rows, t
from tests.rules.expectations import check_all


def _has_expectations(path: Path) -> bool:
    """A scenario this module can check: its `expect` names a program and lists the submissions."""
    expect = json.loads(path.read_text()).get("expect") or {}
    return "program" in expect and "submissions" in expect


# every scenario under tests/scenarios/ that carries full expectations (a new file is picked up
# without touching this module), plus the shared spec example and the demo
SCENARIOS = {
    path.stem: path for path in sorted((REPO / "tests/scenarios").glob("*.json")) if _has_expectations(path)
} | {
    "consio-example": REPO.parent / "shared/spec/examples/consio-example.json",
    "demo": REPO / "sandbox/scenarios/demo.json",
}
AVAILABLE = {name: path for name, path in SCENARIOS.items() if path.is_file()}


def _fx_rows(doc: dict[str, Any]) -> str:
    """The scenario's `finance.fx_rates` as the lines of finance's rate file."""
    rates = (doc.get("finance") or {}).get("fx_rates") or []
    return "".join(f"{r['date']},{r['currency']},{r['rate']}\n" for r in rates)


@pytest.mark.parametrize("name", sorted(AVAILABLE))
def test_scenario_from_canonical_rows(engine: Engine, tmp_path: Path, name: str) -> None:
    doc = load_scenario(AVAILABLE[name])
    scenario_rows(doc).save(engine)
    settings = fx_settings(tmp_path / "fx.csv", _fx_rows(doc))
    result = run(engine, doc["expect"]["program"], doc["now"], settings)
    check_all(engine, doc["expect"])
    assert result.entries_appended == len(entries(engine))
    again = run(engine, doc["expect"]["program"], doc["now"], settings)  # the same data adds nothing
    assert again.entries_appended == 0 and again.statuses_changed == 0


def _pull_available() -> bool:
    try:
        import connector.pull  # noqa: F401
        import sandbox.server  # noqa: F401
        from sandbox.costs import write_costs_csv  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _pull_available(), reason="the pull or the sandbox server is not there yet")
@pytest.mark.parametrize("name", sorted(n for n in AVAILABLE if n != "consio-example"))
def test_scenario_end_to_end_through_the_pull(database_url: str, engine: Engine, tmp_path: Path, name: str) -> None:
    doc = load_scenario(AVAILABLE[name])
    pull_and_compute(doc, database_url, engine, tmp_path)
    check_all(engine, doc["expect"])


def pull_and_compute(doc: dict[str, Any], database_url: str, engine: Engine, tmp_path: Path, **sandbox: Any) -> None:
    """Serve `doc` (with `sandbox` options), pull it and compute its program, as a sync would."""
    from connector.pull import pull
    from sandbox.costs import write_costs_csv, write_fx_csv
    from sandbox.scenario import load_scenario as sandbox_scenario
    from sandbox.server import SandboxServer

    program = load_program(bundled_program_path(doc["expect"]["program"]))
    costs, fx = tmp_path / "costs.csv", tmp_path / "fx.csv"
    write_costs_csv(sandbox_scenario(doc), costs)
    write_fx_csv(sandbox_scenario(doc), fx)
    with SandboxServer(doc, port=0, **sandbox) as srv:
        values: dict[str, Any] = {
            "database": {"url": database_url},
            "partnerstack": {"base_url": srv.partnerstack_url, "public_key": "pk", "secret_key": "sk"},
            "stripe": {"base_url": srv.stripe_url, "api_key": "sk_test_rules"},
            "finance": {"marketing_costs_file": str(costs), "fx_rates_file": str(fx)},
            "http": {"backoff_initial_seconds": 0, "backoff_max_seconds": 0},
        }
        ctx = RunContext(
            settings=Settings(**values),
            engine=engine,
            sessions=session_factory(engine),
            run_id=str(uuid.uuid4()),
            kind="sync",
            as_of=t(doc["now"]) if isinstance(doc["now"], str) else dt.datetime.now(dt.UTC),
        )
        pull(ctx)
    compute(ctx, program)
