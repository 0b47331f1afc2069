"""Every scenario with expected entries, driven the way an outside check drives it.

`connector sync --as-of <now>` then `connector report --format json` against the sandbox
serving the scenario, with a config file naming the program file and finance's cost and FX
rate files (written by the sandbox's `--costs-csv` and `--fx-csv` writers). The report's submissions, entries (with
their pushed/held/scheduled status) and, where the scenario lists them, the per-currency
totals must be exactly the scenario's `expect`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from connector.run.cli import app
from sandbox.costs import write_costs_csv, write_fx_csv
from sandbox.scenario import load_scenario
from sandbox.server import SandboxServer
from tests.rules.expectations import PAYOUT_FIELDS, _cost_ids

from .conftest import SCENARIOS, settings_values, write_config

runner = CliRunner()


def _with_entries(path: Path) -> bool:
    expect = json.loads(path.read_text()).get("expect") or {}
    return "program" in expect and "entries" in expect and "submissions" in expect


CASES = sorted(p.name for p in SCENARIOS.glob("*.json") if _with_entries(p))


def _status(status: str) -> str:
    """The compute-only tests write `payable` for what a full run pushes (in any currency: an entry in
    another currency than USD is pushed at its USD payout amount, from the scenario's FX rates)."""
    return "pushed" if status == "payable" else status


@pytest.mark.parametrize("name", CASES)
def test_scenario_through_the_command_line(tmp_path: Path, database_url: str, engine: Engine, name: str) -> None:
    path = SCENARIOS / name
    doc = json.loads(path.read_text())
    expect = doc["expect"]
    costs, fx = tmp_path / "costs.csv", tmp_path / "fx.csv"
    write_costs_csv(load_scenario(path), costs)
    write_fx_csv(load_scenario(path), fx)
    with SandboxServer(path) as server:
        values = settings_values(
            database_url,
            server,
            program={"file": f"programs/{expect['program']}.toml"},
            finance={"marketing_costs_file": str(costs), "fx_rates_file": str(fx)},
        )
        config = write_config(tmp_path / "connector.toml", values)
        synced = runner.invoke(app, ["sync", "--config", str(config), "--as-of", doc["now"]])
        assert synced.exit_code == 0, synced.stderr
    shown = runner.invoke(app, ["report", "--config", str(config), "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    report: dict[str, Any] = json.loads(shown.stdout)
    assert report["run"]["status"] == "succeeded" and report["run"]["program"] == expect["program"]

    got_subs = {s["submission_key"]: (s["partner_key"], s["decision"], s["reason"]) for s in report["submissions"]}
    want_subs = {s["submission_key"]: (s["partner_key"], s["decision"], s["reason"]) for s in expect["submissions"]}
    assert got_subs == want_subs

    cost_ids = _cost_ids(engine)

    def row(e: dict[str, Any]) -> tuple[Any, ...]:
        sources = tuple(cost_ids.get(s, s) for s in e["sources"])
        return (e["partner_key"], e["customer_key"], e["kind"], e["amount_minor"], e["currency"], _status(e["status"]),
                sources)  # fmt: skip

    assert Counter(map(row, report["entries"])) == Counter(map(row, expect["entries"]))
    by_row = {row(e): e for e in report["entries"]}
    for e in expect["entries"]:
        entry = by_row[row(e)]
        if "reason" in e:
            assert entry["reason"] == e["reason"], entry["entry_key"]
        if "payable_at" in e:
            assert entry["payable_at"] == e["payable_at"], entry["entry_key"]
        assert (entry["platform_reward_key"] is not None) == (entry["status"] == "pushed"), entry["entry_key"]
        assert {k: entry[k] for k in PAYOUT_FIELDS if k in e} == {k: e[k] for k in PAYOUT_FIELDS if k in e}
    for currency, totals in expect.get("totals", {}).items():
        assert {k: report["totals"][currency][k] for k in totals} == totals, currency
