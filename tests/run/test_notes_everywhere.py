"""The entry's note (its arithmetic) in every report format, the partner statement and the pushed reward.

Issue 16's "Done when": the demo's capped marketing-cost clawback reads
"basis −120,000 × 0.20 = −24,000, capped at −16,000 …" wherever finance or the partner looks.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from connector.run.cli import app
from connector.run.runner import run_once
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings

CAPPED = "basis −120,000 × 0.20 = −24,000, capped at −16,000"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("CONNECTOR_CONFIG", raising=False)
        done = runner.invoke(app, ["demo", "--workdir", "out"], catch_exceptions=False)
    assert done.exit_code == 0, done.stderr
    return root / "out"


def _report(demo_dir: Path, fmt: str, output: Path, *extra: str) -> None:
    done = CliRunner().invoke(app, ["report", "--config", str(demo_dir / "connector.toml"), "--format", fmt,
                                    "--output", str(output), *extra], catch_exceptions=False)  # fmt: skip
    assert done.exit_code == 0, done.stderr


def test_the_capped_clawback_explains_itself_in_every_format(demo_dir: Path, tmp_path: Path) -> None:
    _report(demo_dir, "json", tmp_path / "r.json")
    entries = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["entries"]
    (capped,) = [e for e in entries if e["note"] and CAPPED in e["note"]]
    assert (capped["customer_key"], capped["amount_minor"], capped["basis_minor"]) == ("cust_gull", -16000, -80000)
    assert capped["note"].startswith("marketing cost 'trade show sponsorship' dated 2026-02-10")
    assert all(e["note"] for e in entries)  # every entry, not only this one

    _report(demo_dir, "csv", tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["section"] == "entries"]
    assert [r["note"] for r in rows if r["entry_key"] == capped["entry_key"]] == [capped["note"]]

    _report(demo_dir, "xlsx", tmp_path / "r.xlsx")
    sheet = load_workbook(tmp_path / "r.xlsx")["Entries"]
    assert capped["note"] in {cell for row in sheet.iter_rows(values_only=True) for cell in row}

    _report(demo_dir, "html", tmp_path / "r.html")
    assert capped["note"].replace("'", "&#39;") in (tmp_path / "r.html").read_text(encoding="utf-8")

    _report(demo_dir, "table", tmp_path / "r.txt")
    assert "Entry notes" in (tmp_path / "r.txt").read_text(encoding="utf-8")


def test_the_partner_statement_carries_the_notes(demo_dir: Path, tmp_path: Path) -> None:
    _report(demo_dir, "json", tmp_path / "ada.json", "--partner", "part_ada")
    body = json.loads((tmp_path / "ada.json").read_text(encoding="utf-8"))
    assert body["partner_key"] == "part_ada"
    assert any(CAPPED in (e["note"] or "") for e in body["entries"])


def test_the_reward_description_carries_the_arithmetic(database_url: str, engine: Engine,
                                                       sandbox: SandboxServer) -> None:  # fmt: skip
    run_once(make_settings(database_url, sandbox), as_of=AS_OF)
    rewards = httpx.get(f"{sandbox.url}/_sandbox/rewards", timeout=10).json()["data"]
    by_amount = {r["amount"]: r["description"] for r in rewards}
    assert by_amount[-10000].startswith("referral-connector: clawback consio ")
    assert ("refund re_A2 (2026-03-20) on invoice in_A2: 54,000 × basis 100,000 / amount paid 108,000; "
            "basis −50,000 × 0.20 = −10,000; rule: consio: 20 % (group master) of net revenue") in by_amount[-10000]
    assert by_amount[-10000].endswith("#0]")  # the marker, whole, ends it
    assert all(len(d) <= 1000 for d in by_amount.values())


# ---------------------------------------------------------------- connector explain (issue 16, item 3)


def _explain(demo_dir: Path, *args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, ["explain", "--config", str(demo_dir / "connector.toml"), *args])
    return done.exit_code, done.stdout, done.stderr


def test_explain_prints_the_capped_clawbacks_chain(demo_dir: Path, tmp_path: Path) -> None:
    _report(demo_dir, "json", tmp_path / "r.json")
    entries = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["entries"]
    (capped,) = [e for e in entries if e["note"] and CAPPED in e["note"]]
    code, out, _ = _explain(demo_dir, capped["entry_key"])
    assert code == 0
    assert f"Explain entry {capped['entry_key']}" in out
    assert "customer cust_gull by part_ada for cust_gull, submitted 2025-12-27T00:00:00Z: qualified [consio]" in out
    assert "billing customer cus_GULL" in out
    assert "−120,000 (-1,200.00 USD): finance's cost file: trade show sponsorship" in out  # the source event
    assert "clawback −16,000 (-160.00 USD) on basis −80,000 × 0.20" in out
    assert f"arithmetic: {capped['note']}" in out and CAPPED in out
    assert "booked: payable" in out and "pushed: pushed" in out  # the status history
    assert f"platform reward: {capped['platform_reward_key']} (sent" in out


def test_explain_a_customer_by_its_billing_id(demo_dir: Path) -> None:
    code, out, _ = _explain(demo_dir, "--customer", "cus_ACME", "--format", "json")
    assert code == 0
    body = json.loads(out)
    assert [s["decision"] for s in body["submissions"]] == ["qualified"]
    kinds = [(s["kind"], s["id"], s["amount_minor"]) for s in body["sources"]]
    assert ("refund", "re_ACME_03", -54000) in kinds
    assert [k for k in kinds if k[0] == "invoice"][0] == ("invoice", "in_ACME_202601", 108000)
    assert len(body["entries"]) == 8 and all(e["note"] for e in body["entries"])
    refund = next(e for e in body["entries"] if e["sources"][0] == "re_ACME_03")
    assert refund["amount_minor"] == -10000 and "54,000 × basis 100,000 / amount paid 108,000" in refund["note"]
    assert refund["reward"]["key"] and refund["history"][0]["cause"] == "booked"


def test_explain_says_what_it_needs_and_what_it_cannot_find(demo_dir: Path) -> None:
    code, _, err = _explain(demo_dir)
    assert code == 2 and "ENTRY_KEY or --customer" in err
    code, _, err = _explain(demo_dir, "--customer", "cust_nobody")
    assert code == 2 and "no customer cust_nobody" in err
    code, _, err = _explain(demo_dir, "consio|part_ada|cust_acme|commission|in_NONE#0")
    assert code == 2 and "no ledger entry" in err
