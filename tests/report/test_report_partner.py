from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine

from connector.report import (
    PartnerNotFound,
    Quarter,
    leaderboard,
    partner_statement,
    render_json,
    render_leaderboard_json,
    render_leaderboard_table,
    render_report,
    render_table,
    write_report,
)
from tests.report.builders import RUN_ID, SECRET_BANK, SECRET_IBAN, SECRET_TAX_ID, seed_tech_consultant


def test_statement_of_one_partner_has_its_own_exact_totals(consio_engine: Engine) -> None:
    statement = partner_statement(consio_engine, "part_ada", RUN_ID)
    body = json.loads(render_json(statement))
    assert body["partner_key"] == "part_ada"
    assert list(body["totals"]) == ["usd"]
    assert body["totals"]["usd"]["commission_minor"] == 70001
    assert body["totals"]["usd"]["pushed_minor"] == 30000
    assert [s["submission_key"] for s in body["submissions"]] == ["lead_acme_ada", "lead_open"]
    assert body["partners"] == [{
        "key": "part_ada", "name": "Lovelace Advisory LLC", "group_slug": "master", "country": "US",
        "tax_form": "W-9", "tax_id_last4": "6789", "bank_kind": "account", "bank_last4": "4321",
    }]
    assert body["quarantined"] == [] and body["pulled"] == {}
    assert all(c["holds"] for c in body["checks"])
    assert "Partner statement · Lovelace Advisory LLC" in render_table(statement)


def test_statement_of_a_held_partner(consio_engine: Engine) -> None:
    statement = partner_statement(consio_engine, "part_bob")
    assert {c: (t.held_minor, t.total_minor) for c, t in statement.totals.items()} == {"jpy": (20000, 20000)}
    assert [e.reason for e in statement.held_entries] == ["tax_form_missing"]


def test_statement_of_a_partner_with_nothing_yet(consio_engine: Engine) -> None:
    from sqlalchemy.orm import Session

    from connector.store.models import Partner

    with Session(consio_engine) as s, s.begin():
        s.add(Partner(key="part_new", company_name="Newcomer", raw={}))
    statement = partner_statement(consio_engine, "part_new")
    assert statement.entries == [] and statement.totals == {}
    assert [p.name for p in statement.partners] == ["Newcomer"]
    with pytest.raises(PartnerNotFound):
        partner_statement(consio_engine, "part_nobody")


def test_statement_renders_as_html(consio_engine: Engine, tmp_path: Path) -> None:
    out = render_report(partner_statement(consio_engine, "part_ada"), "html", tmp_path / "s.html")
    page = Path(out).read_text(encoding="utf-8")
    assert 'data-currency="usd">700.01 USD<' in page
    assert "part_bob" not in page


def test_no_secret_reaches_any_report_format(consio_engine: Engine, tmp_path: Path) -> None:
    outputs = [
        write_report(consio_engine, RUN_ID, "json", None),
        write_report(consio_engine, RUN_ID, "table", None),
        Path(write_report(consio_engine, RUN_ID, "html", tmp_path / "r.html")).read_text(encoding="utf-8"),
        Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "r.csv")).read_text(encoding="utf-8"),
        render_json(partner_statement(consio_engine, "part_ada")),
    ]
    csv_dir = Path(write_report(consio_engine, RUN_ID, "csv", tmp_path / "dir"))
    outputs += [p.read_text(encoding="utf-8") for p in sorted(csv_dir.iterdir())]
    with zipfile.ZipFile(write_report(consio_engine, RUN_ID, "xlsx", tmp_path / "r.xlsx")) as book:
        outputs += [book.read(name).decode("utf-8") for name in book.namelist()]
    everything = "\n".join(outputs)
    for secret in (SECRET_TAX_ID, SECRET_BANK, SECRET_IBAN, "SENTINEL"):
        assert secret not in everything
    assert "4321" in outputs[0] and "6789" in outputs[0]  # only the last four
    assert '"bank_last4": "4321"' in outputs[0]


@pytest.fixture
def tc_engine(engine: Engine) -> Engine:
    seed_tech_consultant(engine)
    return engine


def test_leaderboard_ranks_by_referrals_then_commission(tc_engine: Engine) -> None:
    rows = leaderboard(tc_engine, "tech-consultant", "2026-Q2")
    assert [(r.rank, r.partner_key, r.referrals, r.commission_minor, r.bonus_minor) for r in rows] == [
        (1, "part_b", 2, {"usd": 600000}, {"usd": 100000}),
        (2, "part_a", 2, {"usd": 450000}, {}),
        (3, "part_c", 1, {"usd": 90000}, {}),
        (3, "part_d", 1, {"usd": 90000}, {}),
    ]
    assert rows[0].referral_keys == ["deal_b1", "deal_b2"]
    assert rows[0].partner_name == "Beta Consulting"


def test_leaderboard_default_quarter_is_the_latest_runs(tc_engine: Engine) -> None:
    assert [r.partner_key for r in leaderboard(tc_engine, "tech-consultant", None)] == [
        "part_b", "part_a", "part_c", "part_d",
    ]


def test_leaderboard_quarters_are_half_open(tc_engine: Engine) -> None:
    q1 = leaderboard(tc_engine, "tech-consultant", "2026-Q1")
    assert [(r.partner_key, r.referrals, r.commission_minor) for r in q1] == [("part_c", 1, {"usd": 50000})]
    q3 = leaderboard(tc_engine, "tech-consultant", "2026Q3")
    assert [(r.partner_key, r.referrals, r.commission_minor) for r in q3] == [("part_c", 1, {"usd": 70000})]
    assert leaderboard(tc_engine, "tech-consultant", "2025-Q4") == []
    assert leaderboard(tc_engine, "consio", "2026-Q2") == []


def test_quarter_parsing() -> None:
    assert str(Quarter.parse("2026-q4")) == "2026-Q4"
    assert Quarter.parse("2026-Q4").end.isoformat() == "2027-01-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="2026-Q1"):
        Quarter.parse("Q5 2026")


def test_leaderboard_renderers(tc_engine: Engine) -> None:
    rows = leaderboard(tc_engine, "tech-consultant", "2026-Q2")
    body = json.loads(render_leaderboard_json(rows, "tech-consultant", "2026-Q2"))
    assert body["rows"][0] == {
        "rank": 1, "partner_key": "part_b", "partner_name": "Beta Consulting", "referrals": 2,
        "commission_minor": {"usd": 600000}, "bonus_minor": {"usd": 100000}, "referral_keys": ["deal_b1", "deal_b2"],
    }
    text = render_leaderboard_table(rows, "Tech consultants 2026-Q2", limit=2)
    assert "6,000.00 USD" in text and "1,000.00 USD" in text and "4,500.00 USD" in text
    assert "part_c" not in text


def test_write_report_with_partner_and_leaderboard_options(consio_engine: Engine, tmp_path: Path) -> None:
    body = json.loads(write_report(consio_engine, RUN_ID, "json", None, partner="part_bob"))
    assert body["partner_key"] == "part_bob"
    assert body["totals"] == {"jpy": {**body["totals"]["jpy"], "held_minor": 20000, "total_minor": 20000}}
    seed_tech_consultant(consio_engine)
    board = json.loads(write_report(consio_engine, "run-tc", "json", tmp_path / "board.json", leaderboard=True))
    assert board["program"] == "tech-consultant" and board["quarter"] == "2026-Q2"
    assert [(r["rank"], r["partner_key"]) for r in board["rows"]] == [
        (1, "part_b"), (2, "part_a"), (3, "part_c"), (3, "part_d"),
    ]
    assert json.loads((tmp_path / "board.json").read_text(encoding="utf-8")) == board
    q1 = json.loads(write_report(consio_engine, "run-tc", "json", None, leaderboard=True, quarter="2026-Q1"))
    assert [r["partner_key"] for r in q1["rows"]] == ["part_c"]
    assert "Leaderboard · tech-consultant · 2026-Q2" in write_report(
        consio_engine, "run-tc", "table", None, leaderboard=True
    )
    with pytest.raises(ValueError, match="table or json"):
        write_report(consio_engine, "run-tc", "xlsx", tmp_path / "b.xlsx", leaderboard=True)
