"""The append-only ledger: differences only, deterministic keys, statuses that only move forward."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, update

from connector.store.db import session_factory, transaction
from connector.store.models import Deal, Invoice, LedgerEntry, Partner
from connector.store.writes import upsert_rows
from tests.rules.builders import World, entries, fx_settings, group_sums, run, t


def _consio(engine: Engine) -> World:
    w = World()
    w.partner("part_ada")
    w.product("prod_sw")
    w.price("price_sw", "prod_sw", 100000)
    w.customer("cus_A")
    w.lead("lead_a", "ada", "2026-01-01", external_key="k", email="x@acme.io")
    w.referral("cust_a", "part_ada", "2026-01-02", customer_key="k", provider_key="cus_A")
    w.invoice("in_A1", "cus_A", "2026-02-01", paid_at="2026-02-03", tax=8000, lines=[("price_sw", 100000)])
    w.save(engine)
    return w


def _mark_pushed(engine: Engine, *keys: str) -> None:
    with transaction(session_factory(engine)) as s:
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.entry_key.in_(keys))
            .values(status="pushed", push_state="sent", platform_reward_key="rwd_1")
        )


def test_keys_are_deterministic_and_a_late_refund_appends_only_the_difference(engine: Engine) -> None:
    _consio(engine)
    run(engine, "consio", "2026-03-01")
    [first] = entries(engine)
    assert first.entry_key == "consio|part_ada|cust_a|commission|in_A1#0"
    assert (first.basis_minor, first.rate, first.amount_minor, first.sources) == (100000, "0.20", 20000, ["in_A1"])
    _mark_pushed(engine, first.entry_key)
    w = World()
    w.refund("re_A1", "in_A1", 54000, "2026-03-05")
    w.save(engine)
    result = run(engine, "consio", "2026-04-01")
    assert result.entries_appended == 1 and result.appended_minor == {"usd": -10000}
    got = {e.entry_key: e for e in entries(engine)}
    assert got[first.entry_key].status == "pushed"  # push owns it: untouched
    refund = got["consio|part_ada|cust_a|clawback|re_A1#0"]
    assert (refund.kind, refund.amount_minor, refund.sources, refund.status) == (
        "clawback",
        -10000,
        ["re_A1", "in_A1"],
        "payable",
    )


def test_gate_holds_then_releases_on_the_run_after_it_clears(engine: Engine) -> None:
    _consio(engine)
    with transaction(session_factory(engine)) as s:
        s.execute(update(Partner).where(Partner.key == "part_ada").values(bank_kind=None))
    run(engine, "consio", "2026-03-01")
    [entry] = entries(engine)
    assert (entry.status, entry.reason) == ("held", "bank_details_missing")
    with transaction(session_factory(engine)) as s:
        s.execute(update(Partner).where(Partner.key == "part_ada").values(bank_kind="iban"))
    result = run(engine, "consio", "2026-03-02")
    [entry] = entries(engine)
    assert (entry.status, entry.reason, result.statuses_changed, result.entries_appended) == ("payable", None, 1, 0)


def test_disqualified_before_push_reverses_after_push_claws_back(engine: Engine) -> None:
    w = World()
    w.partner("part_v")
    w.customer("cus_1")
    w.deal("deal_1", "v", "2026-01-01", amount=1_000_000, close_date="2026-01-10", external_key="cus_1")
    w.deal("deal_2", "v", "2026-01-01", amount=2_000_000, close_date="2026-01-11", external_key="cus_1")
    w.invoice("in_1", "cus_1", "2026-01-20", paid_at="2026-01-21", lines=[(None, 5000)])
    w.save(engine)
    run(engine, "tech-consultant", "2026-02-01")
    assert group_sums(engine) == {
        "tech-consultant|part_v|deal_1|commission|deal_1": 30000,
        "tech-consultant|part_v|deal_2|commission|deal_2": 60000,
    }
    _mark_pushed(engine, "tech-consultant|part_v|deal_2|commission|deal_2#0")
    with transaction(session_factory(engine)) as s:
        s.execute(update(Deal).values(stage="closed lost"))
    run(engine, "tech-consultant", "2026-02-02")
    got = {e.entry_key: (e.amount_minor, e.kind, e.status) for e in entries(engine)}
    assert got == {
        "tech-consultant|part_v|deal_1|commission|deal_1#0": (30000, "commission", "reversed"),
        "tech-consultant|part_v|deal_1|commission|deal_1#1": (-30000, "clawback", "reversed"),
        "tech-consultant|part_v|deal_2|commission|deal_2#0": (60000, "commission", "pushed"),
        "tech-consultant|part_v|deal_2|commission|deal_2#1": (-60000, "clawback", "payable"),
    }
    assert group_sums(engine) == {}


def test_tier_change_appends_the_rate_difference(engine: Engine) -> None:
    w = World()
    w.partner("part_v")
    w.deal("deal_a", "v", "2026-03-01", amount=1_000_000, close_date="2026-03-10")
    w.deal("deal_b", "v", "2026-03-01", amount=1_000_000, close_date="2026-03-11")
    w.save(engine)
    run(engine, "tech-consultant", "2026-04-01")
    w = World()  # two earlier wins arrive late: deal_b becomes referral #4 (silver, +1 point)
    w.deal("deal_0", "v", "2026-02-01", amount=1_000_000, close_date="2026-02-10")
    w.deal("deal_00", "v", "2026-02-01", amount=1_000_000, close_date="2026-02-11")
    w.save(engine)
    run(engine, "tech-consultant", "2026-04-01")
    got = {
        e.entry_key: (e.amount_minor, e.rate)
        for e in entries(engine)
        if "deal_a" in e.entry_key or "deal_b" in e.entry_key
    }
    assert got == {
        "tech-consultant|part_v|deal_a|commission|deal_a#0": (30000, "0.03"),
        "tech-consultant|part_v|deal_a|commission|deal_a#1": (10000, "0.04"),
        "tech-consultant|part_v|deal_b|commission|deal_b#0": (30000, "0.03"),
        "tech-consultant|part_v|deal_b|commission|deal_b#1": (10000, "0.04"),
    }
    assert all(e.status == "scheduled" and e.reason == "awaiting_first_payment" for e in entries(engine))


def test_cap_change_when_an_earlier_invoice_arrives_late(engine: Engine) -> None:
    w = _consio(engine)
    w = World()
    w.cost("cus_A", "2026-02-10", 150000, "event")  # -30000 against 20000: capped at -20000
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    cost_group = next(k for k in group_sums(engine) if "|clawback|mc_" in k)
    assert group_sums(engine)[cost_group] == -20000
    w = World()
    w.price("price_sw", "prod_sw", 100000)
    w.invoice("in_A0", "cus_A", "2026-02-01", paid_at="2026-02-05", lines=[("price_sw", 50000)])  # +10000 before it
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    sums = group_sums(engine)
    assert sums[cost_group] == -30000 and sums["consio|part_ada|cust_a|commission|in_A0"] == 10000
    assert [e.amount_minor for e in entries(engine) if e.group_key == cost_group] == [-20000, -10000]


def test_scheduled_entries_become_payable_when_their_time_comes(engine: Engine, tmp_path: Path) -> None:
    w = World()
    w.partner("part_p", referrer_relationship="customer", country="GB", tax_form=None)
    w.product("prod_cloud", "managed_service", unit_cost=300000)
    w.price("price_cloud", "prod_cloud", 500000, interval="year", currency="gbp")
    w.customer("cus_T")
    w.lead("lead_t", "p", "2026-01-01", external_key="k", email="x@tide.co.uk")
    w.referral("cust_t", "part_p", "2026-01-02", customer_key="k", provider_key="cus_T")
    w.subscription("sub_T", "cus_T", "2026-01-15", [("price_cloud", 1)], currency="gbp")
    w.save(engine)
    rates = fx_settings(tmp_path / "fx.csv", "2026-01-01,gbp,1.27\n")
    run(engine, "connectus", "2026-04-29T23:59:59Z", rates)
    [entry] = entries(engine)
    assert (entry.amount_minor, entry.status, entry.reason, entry.payable_at) == (
        15000,
        "scheduled",
        "payable_after",
        t("2026-04-30"),
    )
    result = run(engine, "connectus", "2026-04-30", rates)
    [entry] = entries(engine)
    assert (entry.status, result.statuses_changed, result.entries_appended) == ("payable", 1, 0)


def test_customer_past_due_holds_then_releases(engine: Engine) -> None:
    w = World()
    w.partner("part_n")
    w.product("prod_h", "hosting")
    w.price("price_h", "prod_h", 100000)
    w.customer("cus_N")
    w.lead("lead_n", "n", "2026-01-01", external_key="k", email="x@n.io")
    w.referral("cust_n", "part_n", "2026-01-02", customer_key="k", provider_key="cus_N")
    w.invoice("in_1", "cus_N", "2026-02-01", paid_at="2026-02-02", lines=[("price_h", 100000)])
    late = w.invoice("in_2", "cus_N", "2026-03-01", due_date="2026-03-15", lines=[("price_h", 100000)])
    w.save(engine)
    run(engine, "netsource", "2026-03-15")  # due exactly now: not yet past due
    assert [(e.status, e.reason) for e in entries(engine)] == [("payable", None)]
    run(engine, "netsource", "2026-03-20")
    assert [(e.status, e.reason) for e in entries(engine)] == [("held", "customer_past_due")]
    late.update(status="paid", paid_at=t("2026-03-25"), amount_paid=100000, amount_remaining=0)
    with transaction(session_factory(engine)) as s:
        upsert_rows(s, Invoice, [late])
    run(engine, "netsource", "2026-03-26")
    assert sorted((e.amount_minor, e.status) for e in entries(engine)) == [(10000, "payable"), (10000, "payable")]
