"""Finance's month over a world changed across three months (September to November 2026).

Two partners on the Consio program (20 % of net revenue): ada refers acme (100,000 a month: 20,000
commission), bea refers blue (50,000 a month: 10,000). September's rewards are pushed on 30
September, October's on 1 November; on 5 November the platform pays September's and declines
blue's October reward. October is closed. Then a refund dated 20 October arrives late: its clawback
is booked in November and names October, and the closed October report stays byte for byte the same.

    September: opening 0      + accrued 30,000 − taken back 0      − paid 0      = closing 30,000
    October:   opening 30,000 + accrued 30,000 − taken back 0      − paid 0      = closing 60,000
    November:  opening 60,000 + accrued 20,000 − taken back 10,000 − paid 30,000 = closing 40,000
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import adapters.partnerstack.rewards as rewards_mod
from connector.report.closing import verify_closed
from connector.report.rollforward import ledger_ties
from connector.run.check import check_roll_forward
from connector.run.cli import app
from connector.run.lock import run_lock
from sandbox.server import SandboxServer

from .conftest import settings_values, write_config
from .overtime import Connector, Scenario

runner = CliRunner()
USD = "usd"


def _world() -> Scenario:
    w = Scenario("2026-09-30T12:00:00Z")
    w.partner("ada")
    w.partner("bea")
    w.product("prod_sw")
    w.price("price_sw", "prod_sw", 100_000)
    acme = w.referral("ada", "acme", "2026-08-01T00:00:00Z")
    blue = w.referral("bea", "blue", "2026-08-02T00:00:00Z")
    w.invoice("in_acme_sep", acme, "2026-09-01T00:00:00Z", [("price_sw", 100_000)], paid_at="2026-09-02T00:00:00Z")
    w.invoice("in_blue_sep", blue, "2026-09-05T00:00:00Z", [("price_sw", 50_000)], paid_at="2026-09-06T00:00:00Z")
    return w


def _invoice(w: Scenario, iid: str, cus: str, day: str, amount: int) -> list[dict[str, Any]]:
    """The invoice and its payment as a change to apply (the kit's builder, not its document)."""
    w.doc["stripe"]["invoices"], w.doc["stripe"]["invoice_payments"] = [], []
    w.invoice(iid, cus, f"{day}T00:00:00Z", [("price_sw", amount)], paid_at=f"{day}T01:00:00Z")
    return [w.doc["stripe"]["invoices"][0], w.doc["stripe"]["invoice_payments"][0]]


def _apply_invoices(c: Connector, now: str, *invoices: list[dict[str, Any]], **more: Any) -> None:
    c.apply({"now": now, "stripe": {"invoices": [i[0] for i in invoices],
                                    "invoice_payments": [i[1] for i in invoices], **more}})  # fmt: skip


def _reward_keys(server: SandboxServer) -> dict[str, str]:
    """The platform's reward key of each entry, by the entry's source invoice (or refund)."""
    body = httpx.get(f"{server.url}/_sandbox/rewards", timeout=10).json()
    out = {}
    for reward in body["data"]:
        (entry,) = rewards_mod.embedded_entry_keys(reward)
        out[entry.split("|")[4].split("#")[0]] = reward["key"]
    return out


def _cli(config: Path, *args: str) -> str:
    done = runner.invoke(app, [*args, "--config", str(config)])
    assert done.exit_code == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _figures(body: dict[str, Any]) -> dict[str | None, tuple[int, ...]]:
    """(opening, accrued, taken back, paid, closing) per currency line or per partner."""
    names = ("opening_minor", "accrued_minor", "taken_back_minor", "paid_minor", "closing_minor")
    lines = body["roll_forward"] + body["partners"]
    return {line.get("partner_key", line["currency"]): tuple(line[n] for n in names) for line in lines}


def _states(line: dict[str, Any]) -> dict[str, int]:
    return {state: amount for state, amount in line["closing_by_state_minor"].items() if amount}


def _period_files(config: Path, folder: Path, period: str) -> tuple[bytes, bytes]:
    """The period's XLSX and HTML as the CLI writes them."""
    out = []
    for fmt in ("xlsx", "html"):
        target = folder / f"{period}.{fmt}"
        assert f"wrote {target}" in _cli(config, "report", "--period", period, "--format", fmt, "--output", str(target))
        out.append(target.read_bytes())
    return out[0], out[1]


def _minor(value: Any) -> int:
    """A money cell (major units, a number) back in cents: exact, never through a float's digits."""
    assert isinstance(value, int | float | Decimal), value
    return int(Decimal(str(value)) * 100)


def _assert_november_files(config: Path, folder: Path) -> None:
    """November's roll-forward in the workbook (numbers, per currency and per partner) and on the page."""
    xlsx_bytes, html_bytes = _period_files(config, folder, "2026-11")
    book = load_workbook(io.BytesIO(xlsx_bytes))
    assert book.sheetnames == ["Roll-forward", "Movements", "Checks"]
    sheet = book["Roll-forward"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "Roll-forward · consio · 2026-11 · per currency"
    head = rows[1]
    assert head[:8] == ["Partner", "Partner name", "Currency", "Opening", "Accrued", "Taken back", "Paid", "Closing"]
    assert rows[2][:3] == ["all partners", None, "USD"]
    assert [_minor(v) for v in rows[2][3:8]] == [60_000, 20_000, 10_000, 30_000, 40_000]
    states = dict(zip(head[8:15], (_minor(v) for v in rows[2][8:15]), strict=True))
    assert states == {"Closing scheduled": 0, "Closing held": 0, "Closing payable": 10_000, "Closing pushed": 0,
                      "Closing approved": 20_000, "Closing declined": 10_000, "Closing reversed": 0}  # fmt: skip
    assert sheet.cell(row=3, column=4).number_format.startswith("#,##0.00")
    partners = {r[0]: [_minor(v) for v in r[3:8]] for r in rows if r[0] in ("part_ada", "part_bea")}
    assert partners == {"part_ada": [40_000, 20_000, 10_000, 20_000, 30_000],
                        "part_bea": [20_000, 0, 0, 10_000, 10_000]}  # fmt: skip
    names = {r[0]: r[1] for r in rows if r[0] in ("part_ada", "part_bea")}
    assert all(names.values()), names
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    checks = [c.value for row in book["Checks"].iter_rows() for c in row]
    assert "opening 600.00 USD + accrued 200.00 USD − taken back 100.00 USD − paid 300.00 USD = closing 400.00 USD" \
        in checks and "reward_declined" in checks  # fmt: skip
    moves = book["Movements"]
    assert moves.freeze_panes == "A2" and moves.auto_filter.ref and moves.print_title_rows == "$1:$1"
    header = [c.value for c in moves[1]]
    assert header[:4] == ["On (UTC)", "What", "Partner", "Partner name"] and "Note" in header
    lines = [dict(zip(header, (c.value for c in row), strict=True)) for row in moves.iter_rows(min_row=2)]
    assert sorted((m["What"], _minor(m["Amount"])) for m in lines) == [
        ("accrued", 20_000), ("paid", 10_000), ("paid", 20_000), ("taken back", -10_000)]
    late = next(m for m in lines if m["What"] == "taken back")
    assert late["Corrects"] == "2026-10" and late["On (UTC)"] == dt.datetime(2026, 11, 1)
    assert (late["Note"] or "").endswith("corrects closed 2026-10")
    assert moves.cell(row=2, column=3).hyperlink is not None
    html = html_bytes.decode("utf-8")
    for figure in ("600.00 USD", "200.00 USD", "100.00 USD", "300.00 USD", "400.00 USD"):
        assert figure in html, figure
    assert "[ok] roll_forward usd: opening 600.00 USD + accrued 200.00 USD" in html
    for name in names.values():
        assert name in html
    assert html.count('data-link="partner"') >= 4 and 'data-link="stripe"' in html
    assert "corrects closed 2026-10" in html and "@media print" in html
    assert "of which<br>declined" in html and "of which<br>scheduled" not in html  # only statuses holding money


def _assert_changes_files(config: Path, folder: Path, since: str) -> None:
    """What the last run changed as a workbook and a page: the bookings with names and notes; the
    same changes render the same bytes."""
    xlsx = folder / "changes.xlsx"
    assert "wrote" in _cli(config, "report", "--since-run", since, "--format", "xlsx", "--output", str(xlsx))
    first = xlsx.read_bytes()
    _cli(config, "report", "--since-run", since, "--format", "xlsx", "--output", str(xlsx))
    assert xlsx.read_bytes() == first
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Summary", "Changes"]
    sheet = book["Changes"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert sorted((r["Change"], _minor(r["Amount"])) for r in rows) == [
        ("booked as payable", -10_000), ("booked as payable", 20_000), ("payable → pushed", -10_000),
        ("payable → pushed", 20_000)]  # fmt: skip
    assert {r["Partner name"] for r in rows} == {"Ada Partners LLC"} and all(r["Note"] for r in rows)
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    html = folder / "changes.html"
    assert "wrote" in _cli(config, "report", "--changes", "--format", "html", "--output", str(html))
    page = html.read_text(encoding="utf-8")
    assert 'data-booked="usd">100.00 USD' in page and "Ada Partners LLC" in page
    assert page.count('data-cause="booked"') == 2 and "corrects closed 2026-10" in page


def test_three_months_roll_forward_ties_and_a_closed_month_stays_byte_identical(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    w = _world()
    with SandboxServer(w.doc) as server:
        sections = {"partnerstack": {"trailing_reread_hours": 0, "trailing_window_days": 400}}
        c = Connector(server, database_url, engine, "consio", tmp_path, **sections)
        config = write_config(tmp_path / "connector.toml", settings_values(
            database_url, server, program={"file": "programs/consio.toml"}, **sections))  # fmt: skip

        c.sync("2026-09-30T12:00:00Z")  # September booked and pushed
        _apply_invoices(c, "2026-10-15T00:00:00Z", _invoice(w, "in_acme_oct", "cus_acme", "2026-10-02", 100_000),
                        _invoice(w, "in_blue_oct", "cus_blue", "2026-10-06", 50_000))  # fmt: skip
        c.sync("2026-11-01T00:00:00Z")  # October booked (in October), pushed on 1 November
        keys = _reward_keys(server)
        assert sorted(keys) == ["in_acme_oct", "in_acme_sep", "in_blue_oct", "in_blue_sep"]
        c.apply({"now": "2026-11-05T00:00:00Z", "partnerstack": {"rewards": [
            {"key": keys["in_acme_sep"], "reward_status": "paid"},
            {"key": keys["in_blue_sep"], "reward_status": "paid"},
            {"key": keys["in_blue_oct"], "reward_status": "declined"},
        ]}})  # fmt: skip
        read_back = c.sync("2026-11-05T00:00:00Z")  # the platform's word read back

        # November is not over for the books yet: it cannot be closed
        early = runner.invoke(app, ["close", "2026-11", "--config", str(config)])
        assert early.exit_code == 2 and "synced only to 2026-11-05" in early.stderr
        # a run in flight holds the lock: closing waits for it (exit 3)
        with run_lock(engine, 60):
            assert runner.invoke(app, ["close", "2026-10", "--config", str(config)]).exit_code == 3

        closed = _cli(config, "close", "2026-10")
        assert "closed 2026-09" in closed and "closed 2026-10" in closed
        assert "usd: opening 300.00 USD + accrued 300.00 USD − taken back 0.00 USD − paid 0.00 USD = closing " \
               "600.00 USD" in closed  # fmt: skip
        october_json = _cli(config, "report", "--period", "2026-10", "--format", "json")
        october_table = _cli(config, "report", "--period", "2026-10")
        october_files = _period_files(config, tmp_path / "before", "2026-10")

        # a refund dated 20 October arrives late, and November's acme invoice
        _apply_invoices(c, "2026-11-20T00:00:00Z", _invoice(w, "in_acme_nov", "cus_acme", "2026-11-02", 100_000),
                        refunds=[{"id": "re_acme_oct", "payment_intent": "pi_in_acme_oct", "charge": "ch_in_acme_oct",
                                  "amount": 50_000, "currency": "usd", "status": "succeeded",
                                  "created": "2026-10-20T00:00:00Z"}])  # fmt: skip
        last = c.sync("2026-12-01T00:00:00Z")

        # October, closed before the correction: the same bytes, from the kept rendering and from the history
        assert _cli(config, "report", "--period", "2026-10", "--format", "json") == october_json
        assert _cli(config, "report", "--period", "2026-10") == october_table
        assert _period_files(config, tmp_path / "after", "2026-10") == october_files  # XLSX and HTML too
        with Session(engine) as s:
            assert verify_closed(s, "consio") == [("2026-09", True), ("2026-10", True)]
            assert all(t.ties for t in ledger_ties(s, "consio"))
        october = json.loads(october_json)
        assert october["period"]["closed"] is True
        assert _figures(october)[USD] == (30_000, 30_000, 0, 0, 60_000)
        assert _states(october["roll_forward"][0]) == {"pushed": 30_000, "payable": 30_000}

        november = json.loads(_cli(config, "report", "--period", "2026-11", "--format", "json"))
        assert november["period"]["closed"] is False
        assert _figures(november) == {
            USD: (60_000, 20_000, 10_000, 30_000, 40_000),
            "part_ada": (40_000, 20_000, 10_000, 20_000, 30_000),
            "part_bea": (20_000, 0, 0, 10_000, 10_000),
        }
        assert _states(november["roll_forward"][0]) == {"payable": 10_000, "approved": 20_000, "declined": 10_000}
        assert [(ch["name"], ch["currency"], ch["holds"]) for ch in november["checks"]] == [("roll_forward", USD, True)]
        late = [m for m in november["movements"] if m["what"] == "taken back"]
        assert [(m["amount_minor"], m["kind"], m["corrects"], m["on"]) for m in late] == [
            (-10_000, "clawback", "2026-10", "2026-11-01T00:00:00Z")
        ]
        assert sorted((m["what"], m["amount_minor"]) for m in november["movements"]) == [
            ("accrued", 20_000), ("paid", 10_000), ("paid", 20_000), ("taken back", -10_000),
        ]
        assert {m["state_at_end"] for m in november["movements"] if m["what"] == "paid"} == {"paid"}
        notes = {key.split("|")[-1]: note for key, note in c.notes().items()}
        assert (notes["re_acme_oct#0"] or "").endswith("; booked in 2026-11: corrects closed 2026-10")
        assert "corrects" not in (notes["in_acme_nov#0"] or "")
        assert [(f["code"], f["partner_key"]) for f in november["findings"]] == [("reward_declined", "part_bea")]
        _assert_november_files(config, tmp_path / "november")
        table = _cli(config, "report", "--period", "2026-11")
        assert "[ok] roll_forward usd: opening 600.00 USD + accrued 200.00 USD − taken back 100.00 USD − paid " \
               "300.00 USD = closing 400.00 USD" in table and "corrects 2026-10" in table  # fmt: skip

        # a quarter, a range, what the last run changed, and the check's line
        quarter = json.loads(_cli(config, "report", "--period", "2026Q4", "--format", "json"))
        assert _figures(quarter)[USD] == (30_000, 50_000, 10_000, 30_000, 40_000)
        autumn = json.loads(_cli(config, "report", "--period", "2026-09..2026-10-31", "--format", "json"))
        assert _figures(autumn)[USD] == (0, 60_000, 0, 0, 60_000)
        changes = json.loads(_cli(config, "report", "--changes", "--format", "json"))
        assert changes["runs"] == [last.run_id] and changes["booked_minor"] == {USD: 10_000}
        since = json.loads(_cli(config, "report", "--since-run", read_back.run_id, "--format", "json"))
        assert since == changes
        _assert_changes_files(config, tmp_path / "changes", read_back.run_id)
        platform = json.loads(_cli(config, "report", "--changes", "--run", read_back.run_id, "--format", "json"))
        assert sorted((x["cause"], x["before"], x["after"]) for x in platform["changes"]) == [
            ("platform", "pushed", "pushed/approved"), ("platform", "pushed", "pushed/declined"),  # October's
            ("platform", "pushed/approved", "pushed/paid"), ("platform", "pushed/approved", "pushed/paid"),
        ]
        for bad in (["--period", "2026-13"], ["--period", "2026-11", "--changes"], ["--changes",
                                                                                   "--format", "csv"]):
            refused = runner.invoke(app, ["report", *bad, "--config", str(config)])
            assert refused.exit_code == 2, (bad, refused.stdout)
        assert sorted((x["cause"], x["amount_minor"], x["after"]) for x in changes["changes"]) == [
            ("booked", -10_000, "payable"), ("booked", 20_000, "payable"),
            ("pushed", -10_000, "pushed"), ("pushed", 20_000, "pushed"),
        ]
        line = check_roll_forward(c.settings)
        assert "consio ties out to the ledger" in line and "2 closed month(s) reproduce byte for byte" in line
        assert "closing 400.00 USD" in line  # to date: the two November entries and the two October rewards unpaid
        assert "closed 2026-10" not in _cli(config, "close", "2026-10") and "already closed" in _cli(
            config, "close", "2026-10")  # fmt: skip


def test_the_demo_ties_out_every_month_and_closes_june(tmp_path: Path, monkeypatch: Any) -> None:
    """The demo (as of 1 July 2026): every month with entries ties out, per currency and partner;
    June closes, and its report is then the rendering kept at the close."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONNECTOR_CONFIG", raising=False)
    monkeypatch.delenv("CONNECTOR_SECURITY__FINGERPRINT_KEY", raising=False)
    assert runner.invoke(app, ["demo", "--workdir", "out"], catch_exceptions=False).exit_code == 0
    config = Path("out/connector.toml")
    half = json.loads(_cli(config, "report", "--period", "2026-01..2026-06", "--format", "json"))
    assert half["roll_forward"] and all(line["ties"] for line in half["roll_forward"] + half["partners"])
    assert all(ch["holds"] for ch in half["checks"])
    booked = {line["currency"]: line["accrued_minor"] - line["taken_back_minor"] for line in half["roll_forward"]}
    months = [json.loads(_cli(config, "report", "--period", f"2026-{m:02d}", "--format", "json")) for m in range(1, 7)]
    for currency, total in booked.items():  # the months add up to the half year
        assert sum(line["accrued_minor"] - line["taken_back_minor"] for month in months
                   for line in month["roll_forward"] if line["currency"] == currency) == total  # fmt: skip
    assert all(line["ties"] for month in months for line in month["roll_forward"] + month["partners"])
    june_table = _cli(config, "report", "--period", "2026-06")
    assert "closed 2026-06" in _cli(config, "close", "2026-06")
    june = _cli(config, "report", "--period", "2026-06", "--format", "json")
    assert json.loads(june)["period"]["closed"] is True
    assert _cli(config, "report", "--period", "2026-06") == june_table.replace(
        "end excluded)\n", "end excluded) · closed\n", 1)
