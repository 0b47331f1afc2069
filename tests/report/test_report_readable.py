"""A report a person reads: names beside keys, dates as dates, links to Stripe and PartnerStack,
per-partner subtotals that add up to the totals."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.report import build_report, render_report, write_report
from connector.report.html import breakable_key, render_html
from connector.report.readable import Links, as_date, as_time
from connector.report.subtotals import partner_subtotals
from connector.store.models import BillingCustomer, Deal, Referral
from tests.report.builders import RUN_ID


def _seed_customers(engine: Engine) -> None:
    """cust_acme named by PartnerStack; cust_tokyo only by its Stripe customer."""
    with Session(engine) as s, s.begin():
        s.add(Referral(key="cust_acme", name="Acme Robotics", provider_key="cus_ACME", raw={}))
        s.add(Referral(key="cust_tokyo", name=None, provider_key="cus_TOKYO", raw={}))
        s.add(BillingCustomer(id="cus_TOKYO", name="Tokyo Trading KK", raw={}))


def test_stripe_and_partnerstack_links() -> None:
    links = Links("https://dashboard.stripe.com/test", "https://ps.example/p/{key}")
    assert links.stripe("in_A1") == "https://dashboard.stripe.com/test/invoices/in_A1"
    assert links.stripe("cus_ACME") == "https://dashboard.stripe.com/test/customers/cus_ACME"
    assert links.stripe("re_A2") == "https://dashboard.stripe.com/test/search?query=re_A2"
    assert links.stripe("d2096f02a7e4502b914d1770e6cf28ff") is None  # a cost row's digest: no Stripe object
    assert links.partner("part_ada") == "https://ps.example/p/part_ada"
    assert Links("", "").stripe("in_A1") is None and Links("", "").partner("part_ada") is None


def test_dates_and_breakable_keys() -> None:
    moment = dt.datetime(2026, 2, 3, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert as_date(moment) == "2026-02-04"  # the UTC date
    assert as_time(moment) == "2026-02-04 04:30 UTC"
    assert str(breakable_key("consio|part_ada|in_A1#0")) == "consio|<wbr>part_ada|<wbr>in_A1#<wbr>0"
    assert str(breakable_key("<b>")) == "&lt;b&gt;"


def test_partner_subtotals_add_up_to_the_totals(consio_engine: Engine) -> None:
    report = build_report(consio_engine, RUN_ID)
    subtotals = partner_subtotals(report.entries)
    assert [(s.partner_key, s.currency, s.totals.total_minor, s.totals.entries) for s in subtotals] == [
        ("part_ada", "usd", 70001, 7), ("part_bob", "jpy", 20000, 1),
    ]
    for currency, totals in report.totals.items():
        mine = [s.totals for s in subtotals if s.currency == currency]
        for name in ("total_minor", "commission_minor", "held_minor", "pushed_minor", "payable_minor", "entries"):
            assert sum(getattr(t, name) for t in mine) == getattr(totals, name), (currency, name)


def test_html_shows_names_dates_links_and_subtotals(consio_engine: Engine) -> None:
    _seed_customers(consio_engine)
    report = build_report(consio_engine, RUN_ID)
    report.links = Links("https://dashboard.stripe.com", "https://ps.example/p/{key}")
    page = render_html(report)
    entries = page[page.index('<section id="entries">'):page.index('<section id="held">')]
    # names beside keys: each partner group is headed by its name, each customer named
    assert re.findall(r'<span class="name">([^<]+)</span> <a class="key" href="https://ps.example/p/(part_\w+)"',
                      entries) == [("Lovelace Advisory LLC", "part_ada"), ("Bob Meyer", "part_bob")]
    assert entries.count('<span class="name">Acme Robotics</span>') == 7
    assert entries.count('<span class="name">Tokyo Trading KK</span>') == 1
    assert entries.count('href="https://dashboard.stripe.com/customers/cus_ACME"') == 7
    # dates as dates
    assert '<td class="date">2026-02-03</td>' in entries and "T00:00:00Z" not in entries
    # every Stripe source linked: 7 ada entries carry 9 sources, bob's one
    assert len(re.findall(r'href="https://dashboard.stripe.com/(?:invoices|search)', entries)) == 10
    assert 'href="https://dashboard.stripe.com/search?query=re_A2"' in entries
    # one subtotal row per partner and currency
    subtotal_rows = re.findall(r'<tr class="subtotal" data-partner="(\w+)" data-currency="(\w+)">.*?'
                               r'<td class="num">([^<]+)</td>', entries)
    assert subtotal_rows == [("part_ada", "usd", "700.01 USD"), ("part_bob", "jpy", "20,000 JPY")]
    by_partner = page[page.index('<section id="by-partner">'):page.index('<section id="checks">')]
    assert by_partner.count("<tr data-partner=") == 2
    assert 'data-subtotal="total_minor">700.01 USD<' in by_partner


def test_csv_and_table_carry_the_names(consio_engine: Engine, tmp_path: Path) -> None:
    _seed_customers(consio_engine)
    out = Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "report"))
    with (out / "entries.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["partner_key"], r["partner_name"], r["customer_key"], r["customer_name"]) for r in rows} == {
        ("part_ada", "Lovelace Advisory LLC", "cust_acme", "Acme Robotics"),
        ("part_bob", "Bob Meyer", "cust_tokyo", "Tokyo Trading KK"),
    }
    with (out / "by_partner.csv").open(newline="", encoding="utf-8") as fh:
        by_partner = list(csv.DictReader(fh))
    assert [(r["partner_key"], r["partner_name"], r["currency"], r["total"], r["total_minor"]) for r in by_partner] == [
        ("part_ada", "Lovelace Advisory LLC", "usd", "700.01", "70001"),
        ("part_bob", "Bob Meyer", "jpy", "20000", "20000"),
    ]
    text = render_report(build_report(consio_engine, RUN_ID), "table", None)
    assert "Acme Robotics (cust_acme)" in text and "2026-02-03" in text


def test_deal_programs_name_the_deal(engine: Engine) -> None:
    from tests.report.builders import seed_tech_consultant

    seed_tech_consultant(engine)
    with Session(engine) as s, s.begin():
        s.get(Deal, "deal_a1").name = "Alpha ERP rollout"  # type: ignore[union-attr]
    report = build_report(engine, "run-tc")
    assert report.names().customer("deal_a1") == "Alpha ERP rollout"
    assert report.names().partner("part_a") == "Alpha Consulting"


def test_csv_zip_has_one_stable_file_per_section(consio_engine: Engine, tmp_path: Path) -> None:
    import zipfile

    from connector.report import default_filename
    from connector.report.sections import ENTRY_COLUMNS

    assert default_filename("r1", "csv") == "report-r1.zip"
    first = Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "a" / "report.zip"))
    again = Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "b" / "report.zip"))
    assert first.read_bytes() == again.read_bytes()  # reproducible: no build time inside
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == [
            f"{n}.csv" for n in ("run", "totals", "by_partner", "payout_totals", "checks", "pulled", "submissions",
                                 "entries", "held", "pushed", "quarantined", "findings", "partners", "notes")
        ]
        entries = list(csv.reader(archive.read("entries.csv").decode("utf-8").splitlines()))
        held = list(csv.reader(archive.read("held.csv").decode("utf-8").splitlines()))
    assert entries[0] == ENTRY_COLUMNS == held[0]
    assert len(entries) == 1 + 8 and len(held) == 1 + 1


def test_leaderboard_defaults_to_the_latest_quarter_with_referrals(consio_engine: Engine) -> None:
    import json

    from connector.store.models import Run
    from tests.report.builders import seed_tech_consultant, t

    seed_tech_consultant(consio_engine)
    with Session(consio_engine) as s, s.begin():  # a later run: its own quarter (Q4) has no referral
        s.add(Run(id="run-tc-late", kind="sync", program="tech-consultant", as_of=t("2026-11-15T00:00:00Z"),
                  started_at=t("2026-11-15T00:00:00Z"), status="succeeded", notes=[]))
    board = json.loads(write_report(consio_engine, "run-tc-late", "json", None, leaderboard=True))
    assert board["quarter"] == "2026-Q3" and [r["partner_key"] for r in board["rows"]] == ["part_c"]
    assert board["message"] == "2026-Q3 is the latest quarter with referrals (--quarter picks another)"
    text = write_report(consio_engine, "run-tc-late", "table", None, leaderboard=True)
    assert "Leaderboard · tech-consultant · 2026-Q3" in text and "latest quarter with referrals" in text
    empty = write_report(consio_engine, "run-tc-late", "table", None, leaderboard=True, quarter="2026-Q4")
    assert "no successful referral was signed in 2026-Q4; the latest quarter with referrals is 2026-Q3" in empty
    given = json.loads(write_report(consio_engine, "run-tc", "json", None, leaderboard=True, quarter="2026-Q2"))
    assert "message" not in given and given["quarter"] == "2026-Q2"


def test_partner_statement_names_the_partner_and_its_period(consio_engine: Engine) -> None:
    import json

    body = json.loads(write_report(consio_engine, RUN_ID, "json", None, partner="part_ada"))
    assert body["partner_name"] == "Lovelace Advisory LLC"
    assert body["period"] == {"from": "2026-02-03", "to": "2026-05-12"}
    text = write_report(consio_engine, RUN_ID, "table", None, partner="part_ada")
    assert "Partner statement · Lovelace Advisory LLC (part_ada)" in text and "2026-02-03 to 2026-05-12" in text
    from connector.report import partner_statement

    statement = render_html(partner_statement(consio_engine, "part_ada", RUN_ID))
    assert '<strong id="period">2026-02-03 to 2026-05-12</strong>' in statement
    assert "<title>Partner statement · Lovelace Advisory LLC (part_ada) · consio</title>" in statement
    assert 'id="period"' not in render_html(build_report(consio_engine, RUN_ID))  # a run's report has no period
