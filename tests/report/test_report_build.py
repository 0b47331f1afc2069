from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.report import RunNotFound, build_report, render_table, summary_table, write_report
from tests.report.builders import A1_NOTE, OLD_RUN_ID, RUN_ID, add_entry, entry

EXPECTED_TOTALS = {
    "usd": {
        "net_revenue_minor": 350003,
        "commission_minor": 70001,
        "bonus_minor": 0,
        "clawback_minor": -30000,
        "total_minor": 70001,
        "scheduled_minor": 20001,
        "held_minor": 0,
        "payable_minor": 20000,
        "pushed_minor": 30000,
        "reversed_minor": 0,
        "entries": 7,
    },
    "jpy": {
        "net_revenue_minor": 100000,
        "commission_minor": 20000,
        "bonus_minor": 0,
        "clawback_minor": 0,
        "total_minor": 20000,
        "scheduled_minor": 0,
        "held_minor": 20000,
        "payable_minor": 0,
        "pushed_minor": 0,
        "reversed_minor": 0,
        "entries": 1,
    },
}


def test_json_has_the_fixed_shape_and_exact_totals(consio_engine: Engine) -> None:
    body = json.loads(write_report(consio_engine, RUN_ID, "json", None))

    assert body["run"] == {
        "id": RUN_ID,
        "kind": "sync",
        "as_of": "2026-06-30T00:00:00Z",
        "started_at": "2026-06-30T01:00:00Z",
        "finished_at": "2026-06-30T01:05:00Z",
        "status": "succeeded",
        "program": "consio",
        "error": None,
    }
    assert body["pulled"] == {"partnerstack.partnerships": 2, "stripe.invoices": 6}
    assert body["totals"] == EXPECTED_TOTALS
    assert [s["submission_key"] for s in body["submissions"]] == [
        "lead_acme_ada", "cust_tokyo", "lead_acme_bob", "lead_open",
    ]
    assert body["submissions"][2] == {
        "partner_key": "part_bob", "submission_key": "lead_acme_bob", "customer_key": None,
        "decision": "rejected", "reason": "duplicate_lead", "submission_type": "lead",
        "submitted_at": "2026-01-08T09:00:00Z",
    }
    first = body["entries"][0]
    assert first == {
        "entry_key": "consio|part_ada|cust_acme|commission|in_A1#0",
        "partner_key": "part_ada", "customer_key": "cust_acme", "kind": "commission",
        "basis_minor": 100000, "rate": "0.20", "amount_minor": 20000, "currency": "usd",
        "status": "pushed", "reason": None, "sources": ["in_A1"], "payable_at": "2026-02-03T00:00:00Z",
        "platform_reward_key": "rwd_1", "platform_status": None, "event_at": "2026-02-03T00:00:00Z",
        "group_key": "consio|part_ada|cust_acme|commission|in_A1", "pushed_at": "2026-06-30T01:02:00Z",
        "created_run_id": RUN_ID, "pushed_run_id": RUN_ID, "payout_amount_minor": 20000, "payout_currency": "usd",
        "fx_rate": "1", "fx_date": None, "fx_source": "same currency", "note": A1_NOTE,
    }
    # partner, customer, event time, key; the other program's entry is not in this report
    assert [e["sources"][0] for e in body["entries"]] == [
        "in_A1", "in_A2", "re_A2", "in_A3", "in_A4", "in_A5", "cn_A5", "in_T1",
    ]
    assert body["quarantined"] == [
        {"source": "stripe.invoices", "id": "in_BAD", "error": "amount_paid: null amount",
         "created_at": "2026-06-30T01:01:00Z"}
    ]
    assert body["findings"] == [
        {"program": "consio", "subject_key": "cust_acme", "code": "margin_unknown",
         "detail": "prod_x has no unit_cost"}
    ]
    assert body["notes"] == ["stripe: saved event position too old, re-read windows"]
    assert body["monthly"]["usd"] == [
        {"month": "2026-02", "amount_minor": 20000},
        {"month": "2026-03", "amount_minor": 10000},
        {"month": "2026-04", "amount_minor": 20000},
        {"month": "2026-05", "amount_minor": 20001},
    ]
    assert {c["name"]: c["holds"] for c in body["checks"] if c["currency"] == "usd"} == {
        "entry_amount_is_basis_times_rate": True,
        "net_revenue_times_rate": True,
        "statuses_add_up": True,
        "reversed_pairs_sum_to_zero": True,
        "pushed_entries_have_reward_key": True,
        "held_entries_name_their_gate": True,
        "payout_is_amount_times_fx_rate": True,
        "payouts_name_their_rate": True,
    }
    assert all(c["holds"] for c in body["checks"])


def test_amounts_are_ints_and_rates_strings(consio_engine: Engine) -> None:
    body = json.loads(write_report(consio_engine, RUN_ID, "json", None))
    for e in body["entries"]:
        assert type(e["basis_minor"]) is int and type(e["amount_minor"]) is int
        assert isinstance(e["rate"], str)


def test_latest_is_the_most_recently_started_run(consio_engine: Engine) -> None:
    assert build_report(consio_engine).run.id == RUN_ID
    assert build_report(consio_engine, "latest").run.id == RUN_ID
    old = build_report(consio_engine, OLD_RUN_ID)
    assert old.pulled == {"stripe.invoices": 99}
    assert [q.id for q in old.quarantined] == ["re_OLD"]
    assert old.findings == []


def test_unknown_run_is_reported(consio_engine: Engine) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        build_report(consio_engine, "nope")


def test_empty_database_has_no_latest_run(engine: Engine) -> None:
    with pytest.raises(RunNotFound):
        build_report(engine)


def test_build_accepts_a_session(consio_engine: Engine) -> None:
    with Session(consio_engine) as session:
        assert build_report(session, RUN_ID).totals["usd"].commission_minor == 70001


def test_amount_not_equal_to_rounded_basis_times_rate_is_flagged(consio_engine: Engine) -> None:
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|commission|in_BAD", basis=100000, amount=20002,
                                   status="payable", event_at="2026-06-01T00:00:00Z"))
    report = build_report(consio_engine, RUN_ID)
    checks = {(c.name, c.currency): c for c in report.checks}
    per_entry = checks[("entry_amount_is_basis_times_rate", "usd")]
    assert not per_entry.holds
    assert per_entry.exceptions == (
        "consio|part_ada|cust_acme|commission|in_BAD#0: amount 20002 ≠ round(basis × 0.20) = 20000",
    )
    # 2 minor units off with 8 rated entries is still inside per-entry rounding (≤ 4), so the
    # aggregate check holds: the per-entry check is what catches a single wrong entry.
    assert checks[("net_revenue_times_rate", "usd")].holds
    assert checks[("statuses_add_up", "usd")].holds
    assert not report.all_checks_hold
    text = render_table(report)
    assert "NO" in text and "in_BAD" in text


def test_a_payout_off_its_rate_and_a_payable_entry_without_payout_are_flagged(consio_engine: Engine) -> None:
    gbp = entry("consio|part_ada|cust_acme|commission|in_GBP", basis=50000, amount=10000, currency="gbp",
                status="payable", event_at="2026-03-10T00:00:00Z")
    gbp.payout_amount_minor, gbp.payout_currency, gbp.fx_rate, gbp.fx_source = 12684, "usd", "1.26845", "fx.csv:3"
    add_entry(consio_engine, gbp)  # 10000 × 1.26845 = 12684.5: half up is 12685
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|commission|in_EUR", basis=50000, amount=10000,
                                   currency="eur", status="payable", event_at="2026-03-10T00:00:00Z"))
    report = build_report(consio_engine, RUN_ID)
    checks = {(c.name, c.currency): c for c in report.checks}
    assert checks[("payout_is_amount_times_fx_rate", "usd")].exceptions == (
        "consio|part_ada|cust_acme|commission|in_GBP#0: payout 12684 ≠ round(10000 GBP × 1.26845) = 12685",
    )
    unpaid = checks[("payable_entries_have_payout", None)]
    assert unpaid.exceptions == ("consio|part_ada|cust_acme|commission|in_EUR#0",)
    assert report.payout_totals["usd"].converted == 1
    assert not report.all_checks_hold


def test_aggregate_rate_check_fails_beyond_rounding(consio_engine: Engine) -> None:
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|commission|in_BIG", basis=100000, amount=25000,
                                   status="payable", event_at="2026-06-01T00:00:00Z"))
    checks = {(c.name, c.currency): c for c in build_report(consio_engine, RUN_ID).checks}
    assert not checks[("net_revenue_times_rate", "usd")].holds
    assert checks[("net_revenue_times_rate", "usd")].statement == (
        "net revenue 4,500.03 USD × rate (0.20) = 900.006 USD; commission 950.01 USD "
        "(difference 50.004 USD, at most 0.04 USD from per-entry rounding)"
    )


def test_half_a_reversed_pair_breaks_the_status_tie_out(consio_engine: Engine) -> None:
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|commission|in_R", basis=5000, amount=1000,
                                   status="reversed", event_at="2026-06-01T00:00:00Z"))
    checks = {(c.name, c.currency): c for c in build_report(consio_engine, RUN_ID).checks}
    assert not checks[("reversed_pairs_sum_to_zero", "usd")].holds
    assert checks[("reversed_pairs_sum_to_zero", "usd")].exceptions == (
        "part_ada/cust_acme: reversed entries sum to 1000",
    )
    assert not checks[("statuses_add_up", "usd")].holds


def test_capped_clawback_may_be_smaller_than_basis_times_rate(consio_engine: Engine) -> None:
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|clawback|re_CAP", kind="clawback", basis=-500000,
                                   amount=-70001, status="payable", reason="capped_at_zero",
                                   event_at="2026-06-01T00:00:00Z"))
    checks = {(c.name, c.currency): c for c in build_report(consio_engine, RUN_ID).checks}
    assert checks[("entry_amount_is_basis_times_rate", "usd")].holds
    assert checks[("net_revenue_times_rate", "usd")].holds


def test_pushed_without_reward_key_and_held_without_gate_are_flagged(consio_engine: Engine) -> None:
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|commission|in_P", basis=5000, amount=1000,
                                   status="pushed", event_at="2026-06-01T00:00:00Z"))
    add_entry(consio_engine, entry("consio|part_ada|cust_acme|commission|in_H", basis=5000, amount=1000,
                                   status="held", event_at="2026-06-01T00:00:00Z"))
    checks = {(c.name, c.currency): c for c in build_report(consio_engine, RUN_ID).checks}
    assert checks[("pushed_entries_have_reward_key", "usd")].exceptions == (
        "consio|part_ada|cust_acme|commission|in_P#0",
    )
    assert checks[("held_entries_name_their_gate", "usd")].exceptions == (
        "consio|part_ada|cust_acme|commission|in_H#0",
    )


def test_summary_table_counts(consio_engine: Engine) -> None:
    from io import StringIO

    from rich.console import Console

    buffer = StringIO()
    Console(file=buffer, width=120, color_system=None).print(summary_table(consio_engine, RUN_ID))
    text = buffer.getvalue()
    assert "700.01 USD" in text  # commission
    assert "3,500.03 USD" in text  # net revenue
    assert "20,000 JPY" in text  # held
    assert "submissions qualified" in text and "entries pushed" in text
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in text.splitlines()
             if line.count("│") == 3}
    assert lines["submissions rejected"] == "1"
    assert lines["submissions qualified"] == "2"
    assert lines["entries pushed"] == "3"
    assert lines["entries reversed"] == "2"
    assert lines["quarantined"] == "1"
    assert lines["checks"] == "all hold"


def test_table_format_returns_text_and_writes_it(consio_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    text = write_report(consio_engine, None, "table", out)
    assert out.read_text(encoding="utf-8") == text
    for expected in ("Pulled per stream", "stripe.invoices", "Checks", "duplicate_lead", "tax_form_missing",
                     "rwd_3", "margin_unknown", "re-read windows", "in_BAD", "…4321"):
        assert expected in text


def test_file_formats_need_an_output(consio_engine: Engine) -> None:
    for fmt in ("csv", "xlsx", "html"):
        with pytest.raises(ValueError, match="output"):
            write_report(consio_engine, RUN_ID, fmt, None)
    with pytest.raises(ValueError, match="unknown report format"):
        write_report(consio_engine, RUN_ID, "pdf", None)
