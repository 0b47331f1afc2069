"""Net revenue (Consio) and pro-rated clawbacks (NetSource): exact amounts per rule."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.rules.builders import World, entries, run


def _world(group: str = "master") -> World:
    w = World()
    w.partner("part_ada", group=group)
    w.product("prod_sw", "software")
    w.product("prod_setup", "setup_fee")
    w.product("prod_consult", "consulting")
    w.price("price_sw", "prod_sw", 100000)
    w.price("price_setup", "prod_setup", 25000, type="one_time")
    w.price("price_consult", "prod_consult", 20000, type="one_time")
    w.customer("cus_A")
    w.lead("lead_a", "ada", "2026-01-01", external_key="k", email="x@acme.io")
    w.referral("cust_a", "part_ada", "2026-01-02", customer_key="k", provider_key="cus_A")
    return w


def _amounts(engine: Engine, program: str) -> dict[str, int]:
    return {e.group_key.split("|", 3)[3]: e.amount_minor for e in entries(engine, program)}


def test_excluded_lines_are_prorated_over_amount_paid(engine: Engine) -> None:
    w = _world()
    # 100000 recurring + 25000 setup + 12500 tax, less a discount already outside amount_paid (and amount_due)
    w.invoice(
        "in_1",
        "cus_A",
        "2026-02-01",
        paid_at="2026-02-02",
        tax=12500,
        amount_paid=125000,
        amount_due=125000,
        lines=[("price_sw", 100000), ("price_setup", 25000)],
    )
    w.save(engine)
    run(engine, "netsource", "2026-03-01")
    # (125000 - 12500) x 100000/125000 = 90000; 10% = 9000
    assert _amounts(engine, "netsource") == {"commission|in_1": 9000}


def test_credit_note_counts_once_and_its_refund_not_again(engine: Engine) -> None:
    w = _world()
    w.invoice("in_1", "cus_A", "2026-02-01", paid_at="2026-02-02", tax=8000, lines=[("price_sw", 100000)])
    w.refund("re_1", "in_1", 27000, "2026-02-10")
    w.credit_note("cn_1", "in_1", total=27000, total_excluding_tax=25000, created="2026-02-10", refunds=["re_1"])
    w.credit_note("cn_pre", "in_1", total=5000, total_excluding_tax=5000, created="2026-02-01", type="pre_payment")
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    # in_1: 108000 - 8000 = 100000 -> 20000; cn_1: total_excluding_tax 25000 -> -5000; re_1 listed in cn_1: nothing
    assert _amounts(engine, "consio") == {"commission|in_1": 20000, "clawback|cn_1": -5000}


def test_refund_and_lost_dispute_are_prorated_for_tax(engine: Engine) -> None:
    w = _world()
    w.invoice("in_1", "cus_A", "2026-02-01", paid_at="2026-02-02", tax=8000, lines=[("price_sw", 100000)])
    w.refund("re_1", "in_1", 10000, "2026-02-10")
    w.dispute("dp_1", "in_1", 20000, "2026-02-12")
    w.dispute("dp_won", "in_1", 30000, "2026-02-13", status="won")
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    # re_1: 10000 x 100000/108000 = 9259.259..; 20% = 1851.85 -> -1852
    # dp_1: 20000 x 100000/108000 x 20% = 3703.7 -> -3704
    assert _amounts(engine, "consio") == {"commission|in_1": 20000, "clawback|re_1": -1852, "clawback|dp_1": -3704}


def test_floor_caps_in_event_order_and_does_not_carry(engine: Engine) -> None:
    w = _world()
    w.invoice("in_1", "cus_A", "2026-02-01", paid_at="2026-02-02", lines=[("price_sw", 10000)])
    w.cost("cus_A", "2026-01-15", 5000, "before any invoice")  # total 0: capped to nothing, not written
    w.cost("cus_A", "2026-02-05", 20000, "big")  # -4000 against a total of 2000: capped at -2000
    w.invoice("in_2", "cus_A", "2026-03-01", paid_at="2026-03-02", lines=[("price_sw", 10000)])  # +2000, not eaten
    w.save(engine)
    run(engine, "consio", "2026-04-01")
    amounts = sorted(e.amount_minor for e in entries(engine, "consio"))
    assert amounts == [-2000, 2000, 2000]
    assert sum(amounts) == 2000


def test_commission_period_by_group_and_adjustments_follow_their_invoice(engine: Engine) -> None:
    w = _world(group="elite")  # 24 months from the first paid invoice (2026-02-02)
    w.invoice("in_first", "cus_A", "2026-02-01", paid_at="2026-02-02", lines=[("price_sw", 10000)])
    w.invoice("in_last", "cus_A", "2028-02-01", paid_at="2028-02-01T23:59:59Z", lines=[("price_sw", 10000)])
    w.invoice("in_after", "cus_A", "2028-02-02", paid_at="2028-02-02", lines=[("price_sw", 10000)])
    w.refund("re_last", "in_last", 5000, "2028-03-01")  # after the period: still follows in_last
    w.save(engine)
    run(engine, "consio", "2028-06-01")
    assert _amounts(engine, "consio") == {
        "commission|in_first": 2000,
        "commission|in_last": 2000,
        "clawback|re_last": -1000,
    }


def test_netsource_paid_in_full_and_contract_change(engine: Engine) -> None:
    w = _world()
    w.price("price_host", "prod_sw", 50000)
    w.subscription("sub_1", "cus_A", "2026-01-01", [("price_sw", 1)], term_months=6)
    w.invoice(
        "in_part",
        "cus_A",
        "2026-02-01",
        status="paid",
        paid_at="2026-02-02",
        amount_due=100000,
        amount_paid=60000,
        lines=[("price_sw", 100000)],
    )
    w.invoice("in_up", "cus_A", "2026-07-01", paid_at="2026-07-02", lines=[("price_sw", 100000), ("price_host", 50000)])
    w.invoice("in_down", "cus_A", "2026-08-01", paid_at="2026-08-02", lines=[("price_host", 50000)])
    w.invoice(
        "in_before",
        "cus_A",
        "2026-06-30T23:59:59Z",
        paid_at="2026-07-01",
        lines=[("price_sw", 100000), ("price_host", 50000)],
    )
    w.save(engine)
    run(engine, "netsource", "2026-09-01")
    assert _amounts(engine, "netsource") == {
        "commission|in_before": 15000,  # still inside the 6-month term: 150000 -> 15000
        "commission|in_up": 10000,  # after the term: min(100000, 150000)
        "commission|in_down": 5000,  # min(100000, 50000)
    }  # in_part: amount_remaining 40000, not paid in full: nothing


def test_jpy_has_no_minor_digits(engine: Engine) -> None:
    w = World()
    w.partner("part_ada")
    w.product("prod_sw")
    w.price("price_jp", "prod_sw", 1001, currency="jpy")
    w.customer("cus_J")
    w.lead("lead_j", "ada", "2026-01-01", external_key="k", email="x@jp.co.jp")
    w.referral("cust_j", "part_ada", "2026-01-02", customer_key="k", provider_key="cus_J")
    w.invoice("in_j", "cus_J", "2026-02-01", paid_at="2026-02-02", currency="jpy", lines=[("price_jp", 1001)])
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    [entry] = entries(engine, "consio")
    assert (entry.amount_minor, entry.currency) == (200, "jpy")  # 1001 x 0.20 = 200.2 -> 200 yen
