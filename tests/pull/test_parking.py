"""Poison records are parked, not retried forever (issue 15, item 2).

A Stripe event whose invoice's remaining lines answer 404 used to fail every later sync until the
event left the 30-day retention, and a real refund applied after it never reached the ledger. Now
the invoice is parked in the quarantine (`upstream_not_found`), the event log moves past it, the
run succeeds, and the refund behind it is booked; the invoice's customer is held
`upstream_quarantined` meanwhile. Later runs fetch the parked invoice again, a bounded number of
times, and it resolves once the upstream is fixed.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from connector.report.build import build_report
from connector.report.jsonfmt import render_json
from connector.run.cli import app
from connector.run.gauges import read_store_gauges
from connector.run.runner import RunOutcome, run_once
from connector.store.models import LedgerEntry, Quarantine
from sandbox.server import SandboxServer
from tests.pull.scenarios import NOW, consio
from tests.run.conftest import make_settings, settings_values, write_config

LINES_404 = "/stripe/v1/invoices/in_POISON/lines"


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(n: int) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


def _sync(url: str, srv: SandboxServer, when: dt.datetime, **stripe: Any) -> RunOutcome:
    srv.apply({"now": _iso(when)})
    return run_once(make_settings(url, srv, stripe=stripe) if stripe else make_settings(url, srv), as_of=when)


def _poison_invoice(when: dt.datetime) -> dict[str, Any]:
    """A paid invoice with 12 lines: Stripe embeds 10, the connector fetches the rest."""
    lines = [{"id": f"il_P{n:02d}", "amount": 10000, "currency": "usd", "quantity": 1} for n in range(12)]
    return {
        "id": "in_POISON", "customer": "cus_ACME", "currency": "usd", "status": "paid", "created": _iso(when),
        "subtotal": 120000, "total": 120000, "amount_due": 120000, "amount_paid": 120000,
        "status_transitions": {"finalized_at": _iso(when), "paid_at": _iso(when)}, "lines": lines,
    }  # fmt: skip


def _parked(engine: Engine) -> list[tuple[str, str | None, str | None, int, bool]]:
    with Session(engine) as s:
        rows = s.scalars(select(Quarantine).where(Quarantine.reason == "upstream_not_found"))
        return [(q.source, q.source_id, q.customer_id, q.attempts, q.resolved_at is not None) for q in rows]


def _entries(engine: Engine) -> dict[str, tuple[int, str, str | None]]:
    with Session(engine) as s:
        rows = s.scalars(select(LedgerEntry))
        return {e.group_key.split("|", 3)[3]: (e.amount_minor, e.status, e.reason) for e in rows}


def test_a_poison_event_is_parked_and_the_refund_after_it_reaches_the_ledger(database_url: str, engine: Engine) -> None:
    with SandboxServer(consio()) as srv:
        assert _sync(database_url, srv, NOW).status == "succeeded"  # the first run reads the lists
        srv.set_faults(None, not_found=[LINES_404])
        srv.apply({"now": _iso(_day(1)), "stripe": {"invoices": [_poison_invoice(_day(1))], "invoice_payments": [
            {"id": "inpay_P", "invoice": "in_POISON", "amount_paid": 120000, "currency": "usd", "status": "paid",
             "payment": {"type": "payment_intent", "payment_intent": "pi_P"}}]}})

        parked_run = _sync(database_url, srv, _day(1))
        assert parked_run.status == "succeeded"  # exit 0: the run went past it
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 0, False)]
        assert any("1 record(s) parked" in note for note in parked_run.notes)

        # a real refund after the poison event: 27,000 of in_A1's 108,000 (8,000 tax) -> -5,000
        srv.apply({"now": _iso(_day(2)), "stripe": {"refunds": [
            {"id": "re_LATE", "payment_intent": "pi_A1", "charge": "ch_A1", "amount": 27000, "currency": "usd",
             "status": "succeeded", "created": _iso(_day(2))}]}})
        later = _sync(database_url, srv, _day(2))
        assert later.status == "succeeded"
        entries = _entries(engine)
        assert entries["clawback|re_LATE"] == (-5000, "held", "upstream_quarantined")  # booked; cus_ACME held
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 1, False)]  # retried once
        with Session(engine) as s:
            assert s.execute(text("SELECT count(*) FROM st_invoices WHERE id = 'in_POISON'")).scalar() == 0
            report = json.loads(render_json(build_report(s, later.run_id)))
        assert [(q["source"], q["id"]) for q in report["quarantined"]] == [("stripe.invoices", "in_POISON")]
        assert read_store_gauges(engine, "consio", later.run_id).parked == 1

        srv.set_faults(None)  # upstream fixed: the lines answer again
        fixed = _sync(database_url, srv, _day(3))
        assert fixed.status == "succeeded"
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 1, True)]
        with Session(engine) as s:
            lines = s.execute(text("SELECT count(*) FROM st_invoice_lines WHERE invoice_id = 'in_POISON'")).scalar()
        assert lines == 12
        entries = _entries(engine)
        assert entries["clawback|re_LATE"][1:] != ("held", "upstream_quarantined")  # the hold lifted
        assert entries["commission|in_POISON"][0] == 24000  # 20 % of 120,000, now that it is whole
        assert read_store_gauges(engine, "consio", fixed.run_id).parked == 0


def test_a_parked_record_is_retried_a_bounded_number_of_times(database_url: str, engine: Engine) -> None:
    with SandboxServer(consio()) as srv:
        _sync(database_url, srv, NOW)
        srv.set_faults(None, not_found=[LINES_404])
        srv.apply({"now": _iso(_day(1)), "stripe": {"invoices": [_poison_invoice(_day(1))]}})
        for n in range(1, 6):
            assert _sync(database_url, srv, _day(n), parked_retry_limit=2).status == "succeeded"
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 2, False)]  # then left alone


def test_a_body_unusable_after_every_retry_is_parked(database_url: str, engine: Engine) -> None:
    """The remaining lines answer 200 with a raw NUL byte in the JSON on every attempt."""
    with SandboxServer(consio()) as srv:
        _sync(database_url, srv, NOW)
        srv.set_faults(None, unusable=[LINES_404])
        srv.apply({"now": _iso(_day(1)), "stripe": {"invoices": [_poison_invoice(_day(1))]}})
        assert _sync(database_url, srv, _day(1)).status == "succeeded"
        with Session(engine) as s:
            rows = [(q.source_id, q.reason) for q in s.scalars(select(Quarantine))]
        assert rows == [("in_POISON", "unusable_body")]
        srv.set_faults(None)
        assert _sync(database_url, srv, _day(2)).status == "succeeded"
        with Session(engine) as s:
            assert all(q.resolved_at is not None for q in s.scalars(select(Quarantine)))


def test_a_poison_record_in_the_first_full_read_is_parked_and_the_window_goes_on(
    database_url: str, engine: Engine
) -> None:
    """The first run reads the lists by windows: the poison invoice is parked there too, the
    window resumes after it, and a later run (reading events) fetches it again."""
    world = consio()
    world["stripe"]["invoices"].append(_poison_invoice(NOW - dt.timedelta(days=5)))
    with SandboxServer(world) as srv:
        srv.set_faults(None, not_found=[LINES_404])
        assert _sync(database_url, srv, NOW).status == "succeeded"
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 0, False)]
        with Session(engine) as s:
            assert s.execute(text("SELECT count(*) FROM st_invoices")).scalar() == 2  # in_A1, in_A2 stored
        srv.set_faults(None)
        assert _sync(database_url, srv, _day(1)).status == "succeeded"
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 0, True)]
        with Session(engine) as s:
            stored = s.execute(text("SELECT count(*) FROM st_invoice_lines WHERE invoice_id = 'in_POISON'")).scalar()
        assert stored == 12


def test_an_operator_can_retry_or_resolve_a_parked_record(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    """Past its retry limit a parked record is left alone; `connector quarantine retry` gives it its
    retries back, `connector quarantine resolve` lifts its hold without storing it."""
    config = write_config(tmp_path / "c.toml", settings_values(database_url, None))
    runner = CliRunner()
    with SandboxServer(consio()) as srv:
        _sync(database_url, srv, NOW)
        srv.set_faults(None, not_found=[LINES_404])
        srv.apply({"now": _iso(_day(1)), "stripe": {"invoices": [_poison_invoice(_day(1))]}})
        for n in (1, 2):
            _sync(database_url, srv, _day(n), parked_retry_limit=1)
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 1, False)]
        listed = runner.invoke(app, ["quarantine", "list", "--config", str(config)])
        assert listed.exit_code == 0
        assert "in_POISON  upstream_not_found  attempts 1  holds cus_ACME  open" in listed.stdout
        with Session(engine) as s:
            row_id = s.scalars(select(Quarantine.id)).one()

        assert runner.invoke(app, ["quarantine", "retry", str(row_id), "--config", str(config)]).exit_code == 0
        _sync(database_url, srv, _day(3), parked_retry_limit=1)
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 1, False)]  # fetched again

        assert runner.invoke(app, ["quarantine", "resolve", str(row_id), "--config", str(config)]).exit_code == 0
        _sync(database_url, srv, _day(4), parked_retry_limit=1)
        assert _parked(engine) == [("stripe.invoices", "in_POISON", "cus_ACME", 1, True)]
        released = {("pushed", None), ("payable", None), ("reversed", "offset")}
        assert {e[1:] for e in _entries(engine).values()} <= released  # nothing held any more
        assert runner.invoke(app, ["quarantine", "resolve", str(row_id), "--config", str(config)]).exit_code == 2
