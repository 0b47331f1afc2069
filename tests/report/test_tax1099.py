"""The year-end 1099-NEC list (`connector report --tax-year`): US partners, USD actually paid in the year.

A world with US and non-US partners, W-9s present and missing (a W-9 without a tax id is not on file),
totals either side of each year's threshold ($600 through 2025, $2,000 in 2026, exactly at it counts),
a clawback paid in the year, a reward pushed but never paid, one paid the next year, and one whose
`paid` status was read again a year later (it counts in the year it was first paid).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine
from typer.testing import CliRunner

from connector.config import ConfigError, Settings
from connector.report.tax1099 import COLUMNS, FLAG, nec_list
from connector.run.cli import app
from connector.store.db import session_factory, transaction
from connector.store.models import EntryStatusMove, LedgerEntry
from tests.rules.builders import World

from ..run.conftest import settings_values, write_config

UTC = dt.UTC
N = [0]


def _partners() -> World:
    w = World()
    w.partner("part_a", company_name="Alpha LLC")["tax_id_last4"] = "1111"
    w.partner("part_b", tax_form=None, tax_id=False, company_name="Bravo Inc")  # no W-9
    w.partner("part_c", tax_id=False, company_name="Charlie Co")  # a W-9 form but no tax id: not on file
    w.partner("part_d", country="DE", tax_form="W-8BEN-E", company_name="Delta GmbH")  # not a US partner
    w.partner("part_e", company_name=None)["tax_id_last4"] = "5555"  # a person: P part_e
    w.partner("part_f", country="USA", company_name="Foxtrot LLC")
    return w


def _paid(s: Any, partner: str, amount: int, *paid_at: str | None, currency: str = "usd") -> None:
    """A pushed entry of `amount` (USD cents payout) whose reward's status was read back `paid` at each time
    (None: pushed, never paid)."""
    N[0] += 1
    key = f"consio|{partner}|c|commission|in_{N[0]}#0"
    s.add(LedgerEntry(
        entry_key=key, group_key=key[:-2], seq=0, program="consio", partnership_key=partner, customer_key="c",
        kind="commission" if amount > 0 else "clawback", basis_minor=amount * 5, rate="0.20", amount_minor=amount,
        currency=currency, status="pushed", reason=None, sources=[], event_at=dt.datetime(2025, 1, 1, tzinfo=UTC),
        payable_at=None, created_run_id="r", created_at=dt.datetime(2025, 1, 1, tzinfo=UTC), push_state="sent",
        push_attempts=1, platform_reward_key=f"rwd_{N[0]}", payout_amount_minor=amount, payout_currency=currency,
        fx_rate="1", fx_source="same currency", platform_status="paid" if any(paid_at) else "approved",
    ))  # fmt: skip
    for when in paid_at:
        at = dt.datetime.fromisoformat(when).replace(tzinfo=UTC) if when else dt.datetime(2025, 1, 2, tzinfo=UTC)
        s.add(EntryStatusMove(entry_key=key, program="consio", status="pushed", reason=None,
                              platform_status="paid" if when else "approved", cause="platform", run_id=None, at=at,
                              recorded_at=at, period=at.strftime("%Y-%m"), corrects=None))  # fmt: skip


def _world(engine: Engine) -> None:
    _partners().save(engine)
    with transaction(session_factory(engine)) as s:
        _paid(s, "part_a", 150000, "2026-02-01")
        _paid(s, "part_a", 60000, "2026-11-30T23:59:59")
        _paid(s, "part_a", -10000, "2026-12-15")  # a clawback deducted in 2026: exactly $2,000 left
        _paid(s, "part_b", 250000, "2026-05-01")
        _paid(s, "part_b", 59999, "2025-06-01")  # a cent under $600 in 2025
        _paid(s, "part_c", 199999, "2026-03-01")  # a cent under $2,000
        _paid(s, "part_d", 500000, "2026-03-01")
        _paid(s, "part_e", 70000, "2025-12-31T23:59:59", "2026-01-10")  # first paid in 2025, read again in 2026
        _paid(s, "part_e", 10000, "2026-04-01")
        _paid(s, "part_f", 900000, None)  # pushed, never paid
        _paid(s, "part_f", 900000, "2027-01-01")  # paid the next year
        _paid(s, "part_f", 5000, "2026-07-01", currency="gbp")  # no USD payout: left out, noted


def _rows(engine: Engine, year: int) -> list[tuple[Any, ...]]:
    settings = Settings()
    with session_factory(engine)() as s:
        listed = nec_list(s, "consio", year, settings.tax.nec_threshold(year))
    return [(r.partner_key, r.total_minor, r.w9_on_file, r.over(listed.threshold_minor),
             bool(r.over(listed.threshold_minor) and not r.w9_on_file)) for r in listed.ordered()]  # fmt: skip


def test_2026_list_flags_over_threshold_without_w9_first(engine: Engine) -> None:
    _world(engine)
    assert _rows(engine, 2026) == [
        ("part_b", 250000, False, True, True),
        ("part_a", 200000, True, True, False),  # exactly $2,000: reportable
        ("part_c", 199999, False, False, False),
        ("part_e", 10000, True, False, False),
    ]  # part_d is not a US partner; part_f was paid in 2026 only in GBP (left out, noted)


def test_2025_list_uses_the_600_dollar_threshold(engine: Engine) -> None:
    _world(engine)
    assert _rows(engine, 2025) == [("part_e", 70000, True, True, False), ("part_b", 59999, False, False, False)]
    assert Settings().tax.nec_threshold(2024) == 60000


def test_a_year_without_a_threshold_is_refused() -> None:
    try:
        Settings().tax.nec_threshold(2027)
    except ConfigError as exc:
        assert "2027" in str(exc) and "tax.nec_thresholds" in str(exc)
    else:
        raise AssertionError("2027 has no threshold yet")
    assert Settings(tax={"nec_thresholds": {"2027": 210000}}).tax.nec_threshold(2027) == 210000


def test_csv_and_xlsx_in_import_order(tmp_path: Path, database_url: str, engine: Engine) -> None:
    _world(engine)
    config = write_config(tmp_path / "c.toml", settings_values(database_url, None))
    runner = CliRunner()
    out_csv = tmp_path / "nec.csv"
    result = runner.invoke(app, ["report", "--config", str(config), "--tax-year", "2026", "--format", "csv",
                                 "--output", str(out_csv)], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with out_csv.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == COLUMNS
    assert rows[0][:8] == ["reference_id", "recipient_name", "recipient_tin_last4", "address_city", "address_country",
                           "recipient_email", "box1_nonemployee_compensation", "box4_federal_income_tax_withheld"]
    assert rows[1][:3] == ["part_b", "Bravo Inc", ""] and rows[1][6:12] == ["2500.00", "0.00", "no", "2000.00",
                                                                             "yes", FLAG]  # fmt: skip
    assert rows[2][:3] == ["part_a", "Alpha LLC", "1111"] and rows[2][6] == "2000.00"
    assert rows[4][:3] == ["part_e", "P part_e", "5555"]
    assert [r[0] for r in rows[1:]] == ["part_b", "part_a", "part_c", "part_e"]

    out_xlsx = tmp_path / "nec.xlsx"
    result = runner.invoke(app, ["report", "--config", str(config), "--tax-year", "2026", "--format", "xlsx",
                                 "--output", str(out_xlsx)], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    sheet = load_workbook(out_xlsx).active
    assert [c.value for c in sheet[1]] == COLUMNS
    assert [sheet.cell(r, 1).value for r in range(2, 6)] == ["part_b", "part_a", "part_c", "part_e"]
    assert sheet.cell(3, 7).value == 2000 and sheet.cell(3, 7).number_format != "General"
    assert sheet.cell(3, COLUMNS.index("total_paid_minor") + 1).value == 200000

    doc = json.loads(runner.invoke(app, ["report", "--config", str(config), "--tax-year", "2026", "--format", "json"],
                                   catch_exceptions=False).stdout)  # fmt: skip
    assert (doc["threshold_minor"], [p["reference_id"] for p in doc["partners"]][:2]) == (200000, ["part_b", "part_a"])
    assert doc["notes"] and "no USD payout" in doc["notes"][0]
    refused = runner.invoke(app, ["report", "--config", str(config), "--tax-year", "2027"], catch_exceptions=False)
    assert refused.exit_code == 2 and "2027" in refused.stderr
