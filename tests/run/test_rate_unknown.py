"""A rate that cannot be found is loud (issue 16, item 4): `salse` for `sales` in `rates.by_group`.

Against the demo's world: the sales partner's six entries are booked unpriced and held (its first
failing gate, `tax_form_missing`, before `rate_unknown`, as programs.md orders them), never pushed;
the log, the run's notes, the summary's top, the findings (and so `/metrics`) name `salse` and
suggest `sales`; the tie-out fails; `connector check` fails. Fixing the key books the real amounts.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.report import summary_table
from connector.report.build import build_report
from connector.report.explain import explain_customer, render_explanation_text
from connector.rules.program import bundled_program_path
from connector.rules.ratekeys import UnmatchedKey, unmatched_rate_keys
from connector.run.check import CheckFailed, check_program
from connector.run.demo import demo_scenario_path
from connector.run.gauges import read_store_gauges
from connector.run.runner import run_once
from connector.store.models import LedgerEntry
from sandbox.costs import write_costs_csv
from sandbox.scenario import load_scenario
from sandbox.server import SandboxServer

from .conftest import make_settings

AS_OF = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)  # the demo's `now`
CHEN = "consio|part_chen|cust_cobalt|commission|in_COBALT_2026"


def test_the_closest_group_is_suggested() -> None:
    assert unmatched_rate_keys(["master", "elite", "salse"], ["master", "elite", "sales"]) == [
        UnmatchedKey("salse", "sales")]
    assert unmatched_rate_keys(["master"], ["master", "sales"]) == []
    assert unmatched_rate_keys(["gold"], ["master"]) == [UnmatchedKey("gold", None)]
    assert UnmatchedKey("salse", "sales").message("consio") == (
        "consio: rates.by_group key 'salse' matches no PartnerStack group; did you mean 'sales'?")


def _program(tmp_path: Path, typo: bool) -> Path:
    text = bundled_program_path("consio").read_text(encoding="utf-8")
    path = tmp_path / ("consio-salse.toml" if typo else "consio.toml")
    path.write_text(text.replace("sales = 0.20 }", "salse = 0.20 }") if typo else text, encoding="utf-8")
    return path


def _chen(engine: Engine) -> list[tuple[str, int, int, str, str | None]]:
    with Session(engine) as s:
        rows = s.scalars(select(LedgerEntry).where(LedgerEntry.partnership_key == "part_chen")
                         .order_by(LedgerEntry.entry_key))  # fmt: skip
        return [(e.entry_key.removeprefix(CHEN), e.amount_minor, e.basis_minor, e.status, e.reason) for e in rows]


def test_salse_for_sales_holds_the_sales_partner_loudly_then_pays_once_fixed(
    database_url: str, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = load_scenario(demo_scenario_path())
    costs = tmp_path / "costs.csv"
    write_costs_csv(scenario, costs)
    with SandboxServer(scenario) as server:
        settings = make_settings(database_url, server, program={"file": str(_program(tmp_path, typo=True))},
                                 finance={"marketing_costs_file": str(costs)})  # fmt: skip
        with caplog.at_level(logging.WARNING):
            outcome = run_once(settings, as_of=AS_OF)
        assert outcome.status == "succeeded"
        months = ["01", "02", "03", "04", "05", "06"]
        assert _chen(engine) == [(f"{m}#0", 0, 0, "held", "tax_form_missing") for m in months]
        with Session(engine) as s:
            note = s.get(LedgerEntry, f"{CHEN}01#0").note  # type: ignore[union-attr]
        assert note is not None and "basis 60,000 × rate unknown: partner group 'sales' has no rate" in note

        suggestion = "rates.by_group key 'salse' matches no PartnerStack group; did you mean 'sales'?"
        assert any(suggestion in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
        assert any("rate_unknown: lead_cobalt" in r.getMessage() for r in caplog.records)
        assert f"WARNING consio: {suggestion}" in outcome.notes

        report = build_report(engine, outcome.run_id)
        codes = {(f.code, f.subject_key) for f in report.findings}
        assert {("rate_key_unmatched", "rates.by_group.salse"), ("rate_unknown", "lead_cobalt")} <= codes
        (rates,) = [c for c in report.checks if c.name == "rates_known"]
        assert not rates.holds and rates.statement.startswith("6 entr(ies) booked without a rate")
        assert any("did you mean 'sales'" in x for x in rates.exceptions)

        from rich.console import Console
        console = Console(width=200, record=True, color_system=None)
        console.print(summary_table(engine, outcome.run_id))
        top = console.export_text().splitlines()[3:8]
        assert any("salse" in line and "'sales'" in line for line in top), top
        from connector.report.html import render_html
        page = render_html(report)
        assert page.index(f"WARNING rate_key_unmatched: consio: {suggestion}".replace("'", "&#39;")) < page.index(
            'id="entries"')  # the HTML page says it first too
        with Session(engine) as s:
            told = render_explanation_text(explain_customer(s, "cust_cobalt"))
        assert "Findings (latest run)\n  rate_unknown: lead_cobalt: no rate for partner group 'sales'" in told
        assert "held (rate_unknown, after any gate)" in told
        gauges = read_store_gauges(engine, "consio", outcome.run_id)
        assert gauges.findings["rate_key_unmatched"] == 1 and gauges.findings["rate_unknown"] == 1

        rewards = httpx.get(f"{server.url}/_sandbox/rewards", timeout=10).json()["data"]
        assert not [r for r in rewards if "part_chen" in r["description"]]

        fixed = make_settings(database_url, server, program={"file": str(_program(tmp_path, typo=False))},
                              finance={"marketing_costs_file": str(costs)})  # fmt: skip
        again = run_once(fixed, as_of=AS_OF)
        assert _chen(engine) == sorted(
            [(f"{m}#0", 0, 0, "reversed", "rate_found") for m in months]
            + [(f"{m}#1", 12000, 60000, "held", "tax_form_missing") for m in months])
        report = build_report(engine, again.run_id)
        assert [c.holds for c in report.checks if c.name == "rates_known"] == [True]
        assert not [f for f in report.findings if f.code == "rate_key_unmatched"]


def test_check_fails_naming_the_key_and_its_suggestion(tmp_path: Path) -> None:
    settings = make_settings("sqlite://", None, program={"file": str(_program(tmp_path, typo=True))})
    clients = SimpleNamespace(groups=[{"slug": "master"}, {"slug": "elite"}, {"slug": "sales"}])
    with pytest.raises(CheckFailed, match=r"salse \(did you mean 'sales'\?\)"):
        check_program(settings, clients)  # type: ignore[arg-type]
