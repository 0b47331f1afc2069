from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import Engine

from connector.report import write_report
from tests.report.builders import RUN_ID

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_csv_directory_has_one_file_per_section(consio_engine: Engine, tmp_path: Path) -> None:
    out = Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "report"))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.csv" for n in ("run", "totals", "by_partner", "payout_totals", "checks", "pulled", "submissions",
                             "entries", "held", "pushed", "quarantined", "findings", "partners", "notes")
    )
    totals = {r["currency"]: r for r in _read_csv(out / "totals.csv")}
    assert totals["usd"]["commission_minor"] == "70001"
    assert totals["usd"]["commission"] == "700.01"
    assert totals["usd"]["net_revenue"] == "3500.03"
    assert totals["jpy"]["held"] == "20000"
    assert totals["jpy"]["held_minor"] == "20000"
    held = _read_csv(out / "held.csv")
    assert [(r["entry_key"], r["reason"], r["amount"]) for r in held] == [
        ("consio|part_bob|cust_tokyo|commission|in_T1#0", "tax_form_missing", "20000")
    ]
    pushed = _read_csv(out / "pushed.csv")
    assert [(r["platform_reward_key"], r["amount_minor"]) for r in pushed] == [
        ("rwd_1", "20000"), ("rwd_2", "20000"), ("rwd_3", "-10000"),
    ]
    assert pushed[2]["amount"] == "-100.00"
    assert pushed[0]["event_at"] == "2026-02-03T00:00:00Z"


def test_csv_single_file_has_a_section_column(consio_engine: Engine, tmp_path: Path) -> None:
    out = Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "report.csv"))
    rows = _read_csv(out)
    assert rows[0]["section"] == "run" and rows[0]["field"] == "id" and rows[0]["value"] == RUN_ID
    usd = next(r for r in rows if r["section"] == "totals" and r["currency"] == "usd")
    assert usd["pushed_minor"] == "30000" and usd["scheduled_minor"] == "20001"
    entries = [r for r in rows if r["section"] == "entries"]
    assert len(entries) == 8
    assert sum(int(r["amount_minor"]) for r in entries if r["currency"] == "usd") == 70001


def _block(sheet: Any, title: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A titled block of a stacked sheet: its header and its cells, up to the blank row after it."""
    rows = list(sheet.iter_rows())
    at = next(i for i, row in enumerate(rows) if row[0].value == title)
    header = [c.value for c in rows[at + 1] if c.value is not None]
    body = []
    for row in rows[at + 2:]:
        if row[0].value is None:
            break
        body.append(tuple(row[: len(header)]))
    return header, body


def test_xlsx_reopens_with_the_json_totals(consio_engine: Engine, tmp_path: Path) -> None:
    body = json.loads(write_report(consio_engine, RUN_ID, "json", None))
    out = Path(write_report(consio_engine, RUN_ID, "xlsx", tmp_path / "report.xlsx"))
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Summary", "Submissions", "Entries", "Run details"]
    for sheet in book.worksheets:
        assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1, sheet.title
        assert sheet.page_setup.fitToHeight == 0 and sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert sheet.column_dimensions["A"].width and sheet.column_dimensions["A"].width > 2
    for name in ("Submissions", "Entries"):
        assert book[name].freeze_panes == "A2" and book[name].print_title_rows == "$1:$1", name
        assert book[name].auto_filter.ref and book[name].auto_filter.ref.startswith("A1:"), name
    header, rows = _block(book["Summary"], "Totals")
    by_currency = {row[0].value: row for row in rows}
    exponent = {"usd": 2, "jpy": 0}
    for currency, expected in body["totals"].items():
        row = by_currency[currency]
        for name, minor in expected.items():
            if name == "entries":
                continue
            major = row[header.index(name.removesuffix("_minor").replace("_", " ").capitalize())]
            assert Decimal(str(major.value)).scaleb(exponent[currency]) == minor, (currency, name)
    assert by_currency["usd"][header.index("Commission")].number_format == '#,##0.00 "USD";-#,##0.00 "USD"'
    assert by_currency["jpy"][header.index("Held")].number_format == '#,##0 "JPY";-#,##0 "JPY"'
    entries = book["Entries"]
    eh = [c.value for c in entries[1]]
    assert eh[:5] == ["Partner", "Partner name", "Customer", "Customer name", "Event date"]
    amounts = [(r[eh.index("Currency")].value, r[eh.index("Amount")].value,
                r[eh.index("Amount (minor units)")].value) for r in entries.iter_rows(min_row=2)]
    assert sum(Decimal(str(a)) for cur, a, _ in amounts if cur == "usd") == Decimal("700.01")
    assert [m for _, _, m in amounts] == [e["amount_minor"] for e in body["entries"]]
    assert entries.cell(row=2, column=eh.index("Event date") + 1).number_format == "yyyy-mm-dd"
    rate = entries.cell(row=2, column=eh.index("Rate") + 1)
    assert rate.value == Decimal("0.20") or rate.value == 0.2  # a number, not text
    assert not isinstance(rate.value, str)
    # machine columns stay in the workbook, hidden from print
    hidden = {eh[i] for i in range(len(eh)) if entries.column_dimensions[get_column_letter(i + 1)].hidden}
    assert {"Amount (minor units)", "Basis (minor units)", "Entry key", "Created run id"} <= hidden
    assert "Amount" not in hidden and "Partner name" not in hidden


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium not installed (apt-get install chromium)"
)
def test_html_report_shows_the_totals_in_headless_chromium(consio_engine: Engine, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI must have chromium installed"
    out = Path(write_report(consio_engine, RUN_ID, "html", tmp_path / "report.html"))
    page = out.read_text(encoding="utf-8")
    # self-contained: links a person may follow, but nothing the page itself fetches
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "<svg" in page and not any(fetch in page for fetch in (" src=", "<link", "url(", "@import"))

    dom = _chromium(["--dump-dom", out.as_uri()], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    totals = dom.stdout[dom.stdout.index('<section id="totals">'):dom.stdout.index('<section id="checks">')]
    assert 'data-total="commission_minor" data-currency="usd">700.01 USD<' in totals
    assert 'data-total="net_revenue_minor">3,500.03 USD<' in totals
    assert 'data-total="pushed_minor">300.00 USD<' in totals
    assert 'data-total="held_minor">20,000 JPY<' in totals
    assert "2026-05" in dom.stdout  # chart month label

    png = tmp_path / "report.png"
    shot = _chromium([f"--screenshot={png}", "--window-size=1280,1600", out.as_uri()], tmp_path / "profile-shot")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:
        shutil.copy(png, Path(keep) / "report.png")
