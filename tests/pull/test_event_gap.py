"""A payment made while the connector did not read the event log is never lost (issue 14, item 1).

Two ways to get there: a quiet account (no event for five weeks, the connector running every two
weeks: the last *event* is old, the last *read* is not), and an outage longer than Stripe's 30-day
retention (the event that paid the invoice is gone). Either way the ledger after the gap equals a
clean backfill's of the same world.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from connector.run.runner import RunOutcome, run_once
from connector.store.db import make_engine
from sandbox.server import SandboxServer
from tests.conftest import fresh_database
from tests.pull.scenarios import NOW, consio
from tests.reliability.conftest import ledger_rows
from tests.run.conftest import make_settings

T0 = NOW  # 2026-06-30, the scenario's clock


def _at(days: float) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


def _iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _world() -> dict[str, Any]:
    """The Consio example plus an invoice still open at the first sync."""
    world = consio()
    invoices = world["stripe"]["invoices"]
    a3 = copy.deepcopy(next(i for i in invoices if i["id"] == "in_A2"))
    a3.update(id="in_A3", status="open", created=_iso(_at(-10)), amount_paid=0, amount_remaining=a3["amount_due"],
              status_transitions={"finalized_at": _iso(_at(-10))})
    for n, line in enumerate(a3["lines"]):
        line["id"] = f"il_A3_{n}"
    invoices.append(a3)
    # the last event before the gap comes after the invoice: re-reading what was created since that
    # event does not reach the invoice
    world["stripe"]["customers"].append({"id": "cus_LAST", "name": "Last", "created": _iso(_at(-1))})
    return world


def _pay_a3(srv: SandboxServer, when: dt.datetime) -> None:
    srv.apply({
        "now": _iso(when),
        "stripe": {
            "invoices": [{"id": "in_A3", "status": "paid", "amount_paid": 108000, "amount_remaining": 0,
                          "status_transitions": {"finalized_at": _iso(_at(-10)), "paid_at": _iso(when)}}],
            "invoice_payments": [{"id": "inpay_A3", "invoice": "in_A3", "amount_paid": 108000, "currency": "usd",
                                  "status": "paid", "payment": {"type": "payment_intent",
                                                                "payment_intent": "pi_A3"}}],
        },
    })


def _sync(url: str, srv: SandboxServer, when: dt.datetime) -> RunOutcome:
    srv.apply({"now": _iso(when)})  # the sandbox's clock only (an empty change emits no event)
    return run_once(make_settings(url, srv), as_of=when)


def _status(engine: Engine, invoice: str) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(text("SELECT status FROM st_invoices WHERE id = :i"), {"i": invoice}))


def _clean_backfill_ledger(tmp_path: Path, srv: SandboxServer, when: dt.datetime) -> list[Any]:
    with fresh_database(tmp_path, "clean") as url:
        run_once(make_settings(url, srv), kind="backfill", since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), as_of=when)
        engine = make_engine(url)
        try:
            return [row[:6] for row in ledger_rows(engine)]
        finally:
            engine.dispose()


def test_quiet_account_read_every_two_weeks_keeps_the_payment(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with SandboxServer(_world()) as srv:
        first = run_once(make_settings(database_url, srv), as_of=T0)
        assert first.status == "succeeded" and _status(engine, "in_A3") == "open"
        for day in (14, 28):  # nothing happens upstream: no event for five weeks
            quiet = _sync(database_url, srv, _at(day))
            assert any("inside the 30-day retention): 0 event(s) applied" in n for n in quiet.notes)
        _pay_a3(srv, _at(36))
        final = _sync(database_url, srv, _at(42))  # the last event seen is 42 days old, the last read 14
        assert not any("may be lost" in n for n in final.notes)
        assert any("inside the 30-day retention)" in n for n in final.notes)
        assert _status(engine, "in_A3") == "paid"
        gap = [row[:6] for row in ledger_rows(engine)]
        clean = _clean_backfill_ledger(tmp_path, srv, _at(42))
    assert any("in_A3" in row[0] for row in clean)  # the payment earns a commission
    assert gap == clean


@pytest.mark.parametrize("paid_day", [5, 20])  # paid with its event since expired / still retained
def test_outage_past_retention_re_reads_what_was_not_final(
    tmp_path: Path, database_url: str, engine: Engine, paid_day: int
) -> None:
    with SandboxServer(_world()) as srv:
        run_once(make_settings(database_url, srv), as_of=T0)
        assert _status(engine, "in_A3") == "open"
        _pay_a3(srv, _at(paid_day))
        srv.apply({"now": _iso(_at(38)), "stripe": {"customers": [{"id": "cus_LATE", "name": "Late"}]}})
        final = _sync(database_url, srv, _at(40))  # down for 40 days
        notes = " | ".join(final.notes)
        assert "older than the 30-day retention, so events may be lost" in notes
        assert "re-read the stored records not yet final: invoices 1" in notes
        assert _status(engine, "in_A3") == "paid"
        gap = [row[:6] for row in ledger_rows(engine)]
        clean = _clean_backfill_ledger(tmp_path, srv, _at(40))
        # and the connector is back on the event log, with nothing re-read next time
        after = _sync(database_url, srv, _at(41))
        assert any("inside the 30-day retention)" in n for n in after.notes)
    assert any("in_A3" in row[0] for row in clean)
    assert gap == clean


# ---------------------------------------------------------------- records that change with no status

CONSIO = Path(__file__).resolve().parents[2] / "programs" / "consio.toml"


def _catalogue_world() -> dict[str, Any]:
    """`_world` with a second product on in_A3 (created long before any gap: no `created` window
    since the last read reaches it), billed 60,000 platform + 40,000 add-on."""
    world = _world()
    world["stripe"]["products"].append(
        {"id": "prod_addon", "name": "Add-on", "metadata": {"category": "software"}, "created": _iso(_at(-60))}
    )
    world["stripe"]["prices"].append(
        {"id": "price_addon", "product": "prod_addon", "currency": "usd", "unit_amount": 40000,
         "type": "one_time", "created": _iso(_at(-60))}
    )
    a3 = next(i for i in world["stripe"]["invoices"] if i["id"] == "in_A3")
    platform = a3["lines"][0]
    addon = copy.deepcopy(platform)
    platform["amount"] = 60000
    addon.update(id="il_A3_addon", amount=40000,
                 pricing={"type": "price_details", "price_details": {"price": "price_addon", "product": "prod_addon"}})
    a3["lines"].append(addon)
    return world


def _program_excluding_hardware(tmp_path: Path) -> str:
    """Consio's program with hardware excluded from net revenue: a product's category moves money."""
    text_ = CONSIO.read_text().replace("excluded_categories = []", 'excluded_categories = ["hardware"]')
    assert 'excluded_categories = ["hardware"]' in text_
    path = tmp_path / "consio-hardware.toml"
    path.write_text(text_)
    return str(path)


def _recategorise_and_pay(srv: SandboxServer, when: dt.datetime) -> None:
    """The add-on becomes hardware and the customer's e-mail changes (both with no status), then
    in_A3 is paid."""
    srv.apply({"now": _iso(when), "stripe": {
        "products": [{"id": "prod_addon", "metadata": {"category": "hardware"}}],
        "customers": [{"id": "cus_ACME", "email": "ap@acme-robotics.example"}],
    }})
    _pay_a3(srv, when + dt.timedelta(hours=1))


def _mirror(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return [
            *conn.execute(text("SELECT id, category, unit_cost FROM st_products ORDER BY id")).all(),
            *conn.execute(text("SELECT id, email, name FROM st_customers ORDER BY id")).all(),
        ]


@pytest.mark.parametrize("gap", ["quiet", "outage"])
def test_a_product_recategorised_during_the_gap_moves_the_ledger_like_a_backfill(
    tmp_path: Path, database_url: str, engine: Engine, gap: str
) -> None:
    """A changed product (or customer) has no status and Stripe lists no `updated` filter: past
    retention it comes back only by reading its whole list again."""
    program = {"file": _program_excluding_hardware(tmp_path)}
    with SandboxServer(_catalogue_world()) as srv:
        run_once(make_settings(database_url, srv, program=program), as_of=T0)
        if gap == "quiet":  # read every two weeks, the change at day 36: its events are retained
            for day in (14, 28):
                run_once(make_settings(database_url, srv, program=program), as_of=_at(day))
            _recategorise_and_pay(srv, _at(36))
            final_day = 42
        else:  # down for 40 days, the change at day 5: its events are gone
            _recategorise_and_pay(srv, _at(5))
            final_day = 40
        srv.apply({"now": _iso(_at(final_day))})
        final = run_once(make_settings(database_url, srv, program=program), as_of=_at(final_day))
        notes = " | ".join(final.notes)
        if gap == "outage":
            assert "the whole lists of products, prices, customers" in notes
        else:
            assert "inside the 30-day retention)" in notes and "may be lost" not in notes
        gap_ledger = [row[:6] for row in ledger_rows(engine)]
        gap_mirror = _mirror(engine)
        with fresh_database(tmp_path, "clean") as url:
            settings = make_settings(url, srv, program=program)
            run_once(settings, kind="backfill", since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), as_of=_at(final_day))
            clean_engine = make_engine(url)
            try:
                clean_ledger = [row[:6] for row in ledger_rows(clean_engine)]
                clean_mirror = _mirror(clean_engine)
            finally:
                clean_engine.dispose()
    a3 = [row for row in gap_ledger if "in_A3" in row[0]]
    # 60,000 platform (the add-on is hardware now) × 20 %
    assert [(row[2], row[3], row[4]) for row in a3] == [(60000, 12000, "usd")]
    assert ("prod_addon", "hardware", None) in gap_mirror
    assert ("cus_ACME", "ap@acme-robotics.example", "Acme Robotics") in gap_mirror
    assert gap_mirror == clean_mirror
    assert gap_ledger == clean_ledger


def _net_by_group(rows: list[Any]) -> dict[str, int]:
    """Each reward group's net amount (an entry key less its `#n` correction suffix), zeros left out:
    a change to money already booked adds corrections a clean backfill never needed."""
    net: dict[str, int] = {}
    for row in rows:
        group = str(row[0]).split("#")[0]
        net[group] = net.get(group, 0) + int(row[3])
    return {group: amount for group, amount in sorted(net.items()) if amount}


@pytest.mark.parametrize("gap", ["quiet", "outage"])
def test_a_succeeded_refund_that_fails_during_the_gap_is_given_back(
    tmp_path: Path, database_url: str, engine: Engine, gap: str
) -> None:
    """Stripe can fail a refund after it succeeded (its `failure_balance_transaction` reverses the
    refund's balance transaction): past retention a stored succeeded refund is re-read too."""
    with SandboxServer(_world()) as srv:
        run_once(make_settings(database_url, srv), as_of=T0)
        assert [row[3] for row in ledger_rows(engine) if "re_A2" in row[0]] == [-10000]
        failed_day, final_day = (36, 42) if gap == "quiet" else (5, 40)
        if gap == "quiet":
            for day in (14, 28):
                run_once(make_settings(database_url, srv), as_of=_at(day))
        srv.apply({"now": _iso(_at(failed_day)), "stripe": {"refunds": [
            {"id": "re_A2", "status": "failed", "failure_reason": "expired_or_canceled_card"}
        ]}})
        srv.apply({"now": _iso(_at(final_day))})
        final = run_once(make_settings(database_url, srv), as_of=_at(final_day))
        if gap == "outage":
            assert "re-read the stored records not yet final: " in " | ".join(final.notes)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT status FROM st_refunds WHERE id = 're_A2'")) == "failed"
        gap_rows = ledger_rows(engine)
        with fresh_database(tmp_path, "clean") as url:
            run_once(make_settings(url, srv), kind="backfill", since=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
                     as_of=_at(final_day))
            clean_engine = make_engine(url)
            try:
                clean_rows = ledger_rows(clean_engine)
            finally:
                clean_engine.dispose()
    assert not [row for row in clean_rows if "re_A2" in row[0]]  # a failed refund takes nothing back
    assert sorted(row[3] for row in gap_rows if "re_A2" in row[0]) == [-10000, 10000]
    assert _net_by_group(gap_rows) == _net_by_group(clean_rows)
