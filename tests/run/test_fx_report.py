"""The fx-consio scenario through the command line: the report shows each entry's own amount and what
it pays in USD, and ties out per payout currency; without finance's rates the entries are held; a bad
rate file stops the run before it starts, naming the file and line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from connector.run.cli import app
from sandbox.costs import write_fx_csv
from sandbox.scenario import load_scenario
from sandbox.server import SandboxServer

from .conftest import SCENARIOS, settings_values, write_config

runner = CliRunner()
FX_SCENARIO = SCENARIOS / "fx-consio.json"
NOW = "2026-06-30T00:00:00Z"


PUSHED: dict[str, list[dict[str, Any]]] = {}  # the rewards each test's platform received, by config path


def _sync(tmp_path: Path, database_url: str, fx: Path) -> Path:
    with SandboxServer(FX_SCENARIO) as server:
        config = write_config(tmp_path / "connector.toml",
                              settings_values(database_url, server, finance={"fx_rates_file": str(fx)}))  # fmt: skip
        synced = runner.invoke(app, ["sync", "--config", str(config), "--as-of", NOW])
        assert synced.exit_code == 0, synced.stderr
        PUSHED[str(config)] = server.rewards
    return config


def _report(config: Path, *args: str) -> str:
    shown = runner.invoke(app, ["report", "--config", str(config), *args])
    assert shown.exit_code == 0, shown.stderr
    return shown.stdout


def _entries(body: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {
        e["currency"]: (e["amount_minor"], e["status"], e["reason"], e["payout_amount_minor"], e["payout_currency"],
                        e["fx_rate"], e["fx_date"])
        for e in body["entries"]
    }  # fmt: skip


def test_the_report_shows_original_and_payout_amounts_and_ties_out(tmp_path: Path, database_url: str) -> None:
    fx = tmp_path / "fx.csv"
    write_fx_csv(load_scenario(FX_SCENARIO), fx)
    config = _sync(tmp_path, database_url, fx)
    body = json.loads(_report(config, "--format", "json"))
    assert _entries(body) == {
        "gbp": (10000, "pushed", None, 12685, "usd", "1.26845", "2026-03-10"),
        "jpy": (25000, "pushed", None, 16676, "usd", "0.0066702", "2026-03-12"),
    }
    # what reached PartnerStack: the USD payout in cents, never the entry's own GBP or JPY minor units
    assert sorted(r["amount"] for r in PUSHED[str(config)]) == [12685, 16676]
    assert {c: (t["commission_minor"], t["pushed_minor"]) for c, t in body["totals"].items()} == {
        "gbp": (10000, 10000), "jpy": (25000, 25000),
    }
    assert body["payout_totals"] == {
        "usd": {"currency": "usd", "total_minor": 29361, "payable_minor": 0, "pushed_minor": 29361, "entries": 2,
                "converted": 2},
    }
    checks = {(c["name"], c["currency"]): c for c in body["checks"]}
    assert checks[("payout_is_amount_times_fx_rate", "usd")]["statement"] == (
        "2 payouts in USD (2 converted at finance's rates): Σ amount × rate = 293.60 USD, Σ payout 293.61 USD "
        "(differs by at most half a minor unit per entry: yes)"
    )
    assert [k for k, c in checks.items() if not c["holds"]] == []
    assert {("payouts_name_their_rate", "usd"), ("payable_entries_have_payout", None)} <= set(checks)

    table = _report(config, "--format", "table")
    assert "126.85 USD @ 1.26845 on 2026-03-10" in table and "100.00 GBP" in table
    assert "166.76 USD @ 0.0066702 on 2026-03-12" in table and "25,000 JPY" in table
    out = tmp_path / "report"
    _report(config, "--format", "csv", "--output", str(out))
    with (out / "entries.csv").open(newline="") as fh:
        rows = {r["currency"]: r for r in csv.DictReader(fh)}
    assert [(r["amount"], r["payout"], r["fx_rate"], r["fx_source"]) for _, r in sorted(rows.items())] == [
        ("100.00", "126.85", "1.26845", "fx.csv:3"),
        ("25000", "166.76", "0.0066702", "fx.csv:5"),
    ]
    html = tmp_path / "report.html"
    _report(config, "--format", "html", "--output", str(html))
    assert 'data-payout="12685"' in html.read_text() and 'data-payout="16676"' in html.read_text()


def test_without_rates_the_entries_are_held_and_nothing_is_pushed(tmp_path: Path, database_url: str) -> None:
    fx = tmp_path / "fx.csv"
    fx.write_text("date,currency,rate\n2026-04-01,gbp,1.30\n")  # after the GBP invoice's date: no rate for it
    body = json.loads(_report(_sync(tmp_path, database_url, fx), "--format", "json"))
    assert _entries(body) == {
        "gbp": (10000, "held", "fx_rate_missing", None, None, None, None),
        "jpy": (25000, "held", "fx_rate_missing", None, None, None, None),
    }
    assert body["payout_totals"] == {}
    assert all(c["holds"] for c in body["checks"])


def test_a_bad_rate_file_stops_the_run_naming_file_and_line(tmp_path: Path, database_url: str) -> None:
    fx = tmp_path / "fx.csv"
    fx.write_text("date,currency,rate\n2026-03-10,gbp,1.26845\n2026-03-12,jpy,0,0067\n")
    config = write_config(tmp_path / "connector.toml",
                          settings_values(database_url, None, finance={"fx_rates_file": str(fx)}))  # fmt: skip
    synced = runner.invoke(app, ["sync", "--config", str(config), "--as-of", NOW])
    assert synced.exit_code == 2
    assert "bad setting finance.fx_rates_file: fx.csv line 3: more cells than the 3 columns" in synced.stderr
