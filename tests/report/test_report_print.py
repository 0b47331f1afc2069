"""The demo's reports on paper: the HTML printed by headless Chromium and the XLSX by LibreOffice.

A person prints these, so the test prints them too and reads the PDF back (pdftotext): the page
counts stay a handful (the workbook printed as 38 pages before), every name, note and key survives
whole (a key wrapped one character a line would not be found), and every link is still a link
(counted as the PDF's URI annotations against the anchors and hyperlinks that were written).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from connector.report import build_report
from connector.run.demo import run_demo
from connector.store.db import make_engine

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
PDFTOTEXT = shutil.which("pdftotext")
HTML_MAX_PAGES = 8  # measured 6 for the demo (35 entries, each with its note)
XLSX_MAX_PAGES = 6  # measured 5: Summary 1, Submissions 1, Entries 2, Run details 1

needs = pytest.mark.skipif(
    (CHROMIUM is None or SOFFICE is None or PDFTOTEXT is None) and not os.environ.get("CI"),
    reason="needs chromium, libreoffice and pdftotext (apt-get install chromium libreoffice-calc-nogui poppler-utils)",
)


@dataclass(frozen=True)
class Demo:
    html: Path
    xlsx: Path
    partner_names: list[str]  # partners with entries
    customer_names: list[str]
    notes: list[str]
    keys: list[str]  # every source id and reward key of the entries


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    workdir = tmp_path_factory.mktemp("demo")
    result = run_demo(workdir)
    engine = make_engine(f"sqlite:///{result.database}")
    try:
        report = build_report(engine, result.run_id)
    finally:
        engine.dispose()
    names = report.names()
    return Demo(
        html=workdir / "report.html",
        xlsx=workdir / "report.xlsx",
        partner_names=sorted({n for e in report.entries if (n := names.partner(e.partnership_key))}),
        customer_names=sorted({n for e in report.entries if (n := names.customer(e.customer_key))}),
        notes=[e.note for e in report.entries if e.note],
        keys=sorted({k for e in report.entries for k in (*e.sources, e.platform_reward_key or "") if k}),
    )


def _run(args: list[str], timeout: int = 180) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, (args[0], done.stderr[-2000:])


def _pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf.read_bytes()))


def _uris(pdf: Path) -> Counter[str]:
    return Counter(m.decode() for m in re.findall(rb"/URI\s*\(([^)]*)\)", pdf.read_bytes()))


def _text(pdf: Path) -> str:
    """The PDF's words in reading order, whitespace collapsed (a wrapped line joins the next)."""
    done = subprocess.run([PDFTOTEXT or "pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60, check=True)
    return " ".join(done.stdout.split())


def _first_words(note: str, count: int = 4) -> str:
    return " ".join(note.split()[:count])


@needs
def test_html_prints_a_handful_of_pages_with_names_notes_and_links(demo: Demo, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI must have chromium installed"
    pdf = tmp_path / "report.pdf"
    _run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
          demo.html.as_uri()])
    pages = _pages(pdf)
    assert 1 <= pages <= HTML_MAX_PAGES, pages
    text = _text(pdf)
    page = demo.html.read_text(encoding="utf-8")
    for name in (*demo.partner_names, *demo.customer_names):
        shown = page.count(f'<span class="name">{name}</span>')
        assert shown and text.count(name) >= shown, (name, shown, text.count(name))
    assert len(demo.notes) == 35
    missing = [n for n in demo.notes if _first_words(n) not in text]
    assert missing == [], missing[:3]
    broken = [k for k in demo.keys if len(k) <= 24 and k not in text]  # longer ids print shortened, whole in a title
    assert broken == [], broken[:5]
    anchors = Counter(re.findall(r'<a class="key" href="([^"]+)"', page))
    uris = _uris(pdf)
    assert set(uris) == set(anchors)
    assert all(uris[url] >= count for url, count in anchors.items())  # a link wrapped on two lines is two boxes
    partner_links = sum(c for url, c in anchors.items() if "partnerstack" in url)
    stripe_links = sum(c for url, c in anchors.items() if "dashboard.stripe.com" in url)
    assert partner_links >= 4 * 3 and stripe_links >= 35  # by-partner, groups, partners; every entry's source


@needs
def test_xlsx_prints_a_handful_of_pages_through_libreoffice(demo: Demo, tmp_path: Path) -> None:
    assert SOFFICE is not None, "CI must have libreoffice installed"
    _run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
          "--convert-to", "pdf", "--outdir", str(tmp_path), str(demo.xlsx)])
    pdf = tmp_path / "report.pdf"
    pages = _pages(pdf)
    assert 1 <= pages <= XLSX_MAX_PAGES, pages
    text = _text(pdf)
    for name in (*demo.partner_names, *demo.customer_names):
        assert name in text, name
    missing = [n for n in demo.notes if _first_words(n) not in text]
    assert missing == [], missing[:3]
    book = openpyxl.load_workbook(demo.xlsx)
    written = Counter(c.hyperlink.target for ws in book.worksheets for row in ws.iter_rows() for c in row
                      if c.hyperlink is not None and c.hyperlink.target)
    uris = _uris(pdf)
    assert written and set(uris) == set(written)
    assert sum(uris.values()) == sum(written.values())
    assert sheet_pages(text) == ["Summary", "Submissions", "Entries", "Run details"]


def sheet_pages(text: str) -> list[str]:
    """The sheets in the order their footers (`<sheet> · page N of M`) print."""
    seen: list[str] = []
    for sheet in re.findall(r"([A-Z][a-z]+(?: [a-z]+)?) · page \d+ of \d+", text):
        if sheet not in seen:
            seen.append(sheet)
    return seen


def test_readme_shows_the_screenshot_the_script_makes() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert "![The demo's HTML report" in (repo / "README.md").read_text(encoding="utf-8")
    png = repo / "docs" / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    assert "def screenshot(" in (repo / "docs" / "screenshot.py").read_text(encoding="utf-8")
