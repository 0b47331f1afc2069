"""A period's XLSX and HTML from its JSON body, without a database: exact figures per currency
(a zero-decimal one too), the same bytes whenever rendered, and on paper a handful of pages with
the names, notes and links present (printed by LibreOffice and headless Chromium when installed)."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl

from connector.report.period import parse_period
from connector.report.periodfmt import render_period_json
from connector.report.periodhtml import render_period_html
from connector.report.periodview import Extras, parse_body
from connector.report.periodxlsx import period_xlsx_bytes
from connector.report.readable import Links, Names
from connector.report.rollforward import CLOSING_STATES, Line, Movement, RollForward

from .test_report_print import CHROMIUM, PDFTOTEXT, SOFFICE, _pages, _run, _text, _uris, needs

ADA, BEA = "part_ada", "part_bea"
NOTE = "invoice in_acme_nov paid 2026-11-02: amount paid 100,000 − tax 0 = net 100,000; basis 100,000 × 0.20"


def _line(currency: str, partner: str | None, figures: tuple[int, int, int, int], **states: int) -> Line:
    opening, accrued, taken_back, paid = figures
    closing = opening + accrued - taken_back - paid
    by_state = dict.fromkeys(CLOSING_STATES, 0) | (states or {"payable": closing})
    return Line(currency, partner, opening, accrued, taken_back, paid, closing, by_state, entries=1)


def _body(closed: bool = False) -> dict[str, object]:
    at = dt.datetime(2026, 11, 2, 1, tzinfo=dt.UTC)
    moves = [
        Movement(at, f"consio|{ADA}|cust_acme|commission|in_acme_nov#0", ADA, "cust_acme", "commission", 20_000, "usd",
                 "accrued", None, "payable"),
        Movement(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), f"consio|{BEA}|cust_blue|clawback|re_blue#0", BEA,
                 "cust_blue", "clawback", -1_500, "jpy", "taken back", "2026-10", "payable"),
    ]  # fmt: skip
    rf = RollForward(
        program="consio", period=parse_period("2026-11"), closed=closed,
        currencies=[_line("jpy", None, (5_000, 0, 1_500, 0)), _line("usd", None, (60_000, 20_000, 0, 30_000),
                                                                     payable=20_000, approved=30_000)],
        partners=[_line("usd", ADA, (60_000, 20_000, 0, 30_000), payable=20_000, approved=30_000),
                  _line("jpy", BEA, (5_000, 0, 1_500, 0))],
        movements=moves, declined=[],
    )  # fmt: skip
    return parse_body(render_period_json(rf))


def _extras() -> Extras:
    names = Names({ADA: "Ada Partners LLC", BEA: "Bea Partners KK"}, {"cust_acme": "Acme Corp"},
                  {"cust_acme": "cus_acme"})  # fmt: skip
    notes = {f"consio|{ADA}|cust_acme|commission|in_acme_nov#0": NOTE}
    sources = {f"consio|{ADA}|cust_acme|commission|in_acme_nov#0": ["in_acme_nov"]}
    return Extras(names, notes, sources, Links())


def test_the_workbook_holds_the_figures_as_numbers_per_currency() -> None:
    book = openpyxl.load_workbook(io.BytesIO(period_xlsx_bytes(_body(), _extras())))
    assert book.sheetnames == ["Roll-forward", "Movements", "Checks"]
    rows = [[c.value for c in row] for row in book["Roll-forward"].iter_rows()]
    figures = {(r[0], r[2]): [Decimal(str(v)) for v in r[3:8]] for r in rows if r[2] in ("JPY", "USD")}
    assert figures == {
        ("all partners", "JPY"): [5_000, 0, 1_500, 0, 3_500],  # yen: no minor unit
        ("all partners", "USD"): [Decimal("600"), Decimal("200"), 0, Decimal("300"), Decimal("500")],
        (ADA, "USD"): [Decimal("600"), Decimal("200"), 0, Decimal("300"), Decimal("500")],
        (BEA, "JPY"): [5_000, 0, 1_500, 0, 3_500],
    }
    assert {r[0]: r[1] for r in rows if r[0] in (ADA, BEA)} == {ADA: "Ada Partners LLC", BEA: "Bea Partners KK"}
    moves = book["Movements"]
    header = [c.value for c in moves[1]]
    lines = [dict(zip(header, (c.value for c in row), strict=True)) for row in moves.iter_rows(min_row=2)]
    assert [(m["What"], m["Customer name"], m["Corrects"]) for m in lines] == [
        ("accrued", "Acme Corp", None), ("taken back", None, "2026-10")]
    assert lines[0]["Note"] == NOTE and lines[0]["On (UTC)"] == dt.datetime(2026, 11, 2, 1)
    hidden = [moves.column_dimensions[c].hidden for c in "ABCDEFGHIJKLMN"]
    assert hidden[header.index("Entry key")] and not any(hidden[: header.index("Entry key")])
    links = [c.hyperlink.target for row in moves.iter_rows() for c in row if c.hyperlink is not None]
    assert "https://dashboard.stripe.com/customers/cus_acme" in links
    assert "https://app.partnerstack.com/partnerships/part_bea" in links


def test_the_same_body_gives_the_same_bytes_whenever_rendered() -> None:
    body, extras = _body(closed=True), _extras()
    first = period_xlsx_bytes(body, extras)
    time.sleep(1.1)  # openpyxl stamps the save time to the second, the zip to two seconds
    assert period_xlsx_bytes(body, extras) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count("2026-12-01T00:00:00Z") == 2  # created and modified: the period's end
    assert render_period_html(body, extras) == render_period_html(body, extras)
    assert "closed: these figures are the ones kept" in render_period_html(body, extras)


@needs
def test_period_files_print_on_a_few_pages_with_names_notes_and_links(tmp_path: Path) -> None:
    assert CHROMIUM is not None and SOFFICE is not None and PDFTOTEXT is not None
    body, extras = _body(), _extras()
    html, xlsx = tmp_path / "period.html", tmp_path / "period.xlsx"
    html.write_text(render_period_html(body, extras), encoding="utf-8")
    xlsx.write_bytes(period_xlsx_bytes(body, extras))
    page_pdf = tmp_path / "page.pdf"
    _run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
          f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer", f"--print-to-pdf={page_pdf}",
          html.as_uri()])  # fmt: skip
    _run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
          "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)])  # fmt: skip
    book_pdf = tmp_path / "period.pdf"
    assert _pages(page_pdf) == 1 and _pages(book_pdf) == 3  # Roll-forward, Movements, Checks: a page each
    for pdf in (page_pdf, book_pdf):
        text = _text(pdf)
        for shown in ("Ada Partners LLC", "Bea Partners KK", "Acme Corp", "600.00 USD", "3,500 JPY", "in_acme_nov",
                      " ".join(NOTE.split()[:6])):  # fmt: skip
            assert shown in text, (pdf.name, shown)
        uris = _uris(pdf)
        assert "https://app.partnerstack.com/partnerships/part_ada" in uris, pdf.name
        assert "https://dashboard.stripe.com/invoices/in_acme_nov" in uris, pdf.name
