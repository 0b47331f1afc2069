"""The worked examples of the program documents, as exact amounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.rules.desired import note_text
from connector.store.models import Finding
from tests.rules.builders import World, entries, fx_settings, program, run


@pytest.mark.parametrize(("contract_pounds", "reward_pence"), [(5_000, 15_000), (25_000, 75_000), (50_000, 150_000)])
def test_connectus_three_percent_of_twelve_month_value(
    engine: Engine, tmp_path: Path, contract_pounds: int, reward_pence: int
) -> None:
    w = World()
    w.partner("part_p", referrer_relationship="customer")
    w.product("prod_svc", "managed_service", unit_cost=0)
    w.product("prod_kit", "hardware", unit_cost=0)
    # a quarterly service (x 4 a year) worth the whole contract, plus hardware that earns nothing
    w.price("price_q", "prod_svc", contract_pounds * 100 // 4, interval="month", interval_count=3, currency="gbp")
    w.price("price_kit", "prod_kit", 99_900, type="one_time", currency="gbp")
    w.customer("cus_C")
    w.lead("lead_c", "p", "2026-01-01", external_key="k", email="x@client.co.uk")
    w.referral("cust_c", "part_p", "2026-01-02", customer_key="k", provider_key="cus_C")
    w.subscription("sub_C", "cus_C", "2026-01-15", [("price_q", 1), ("price_kit", 3)], currency="gbp")
    w.save(engine)
    run(engine, "connectus", "2026-05-01", fx_settings(tmp_path / "fx.csv", "2026-01-01,gbp,1.27\n"))
    [entry] = entries(engine)
    assert (entry.basis_minor, entry.amount_minor, entry.currency, entry.status) == (
        contract_pounds * 100,
        reward_pence,
        "gbp",
        "payable",
    )
    # pushed in USD at finance's rate: 15,000 pence x 1.27 = 19,050 cents
    payout = (entry.payout_amount_minor, entry.payout_currency, entry.fx_rate)
    assert payout == (reward_pence * 127 // 100, "usd", "1.27")


def test_netsource_thousand_a_month_earns_a_hundred_a_month(engine: Engine) -> None:
    w = World()
    w.partner("part_n")
    w.product("prod_host", "hosting")
    w.price("price_host", "prod_host", 100_000)
    w.customer("cus_N")
    w.lead("lead_n", "n", "2026-01-01", external_key="k", email="x@client.com")
    w.referral("cust_n", "part_n", "2026-01-02", customer_key="k", provider_key="cus_N")
    w.subscription("sub_N", "cus_N", "2026-01-01", [("price_host", 1)])
    for month in range(1, 16):  # past the 12-month term too: the same contract keeps earning
        year, m = 2026 + (month - 1) // 12, (month - 1) % 12 + 1
        w.invoice(
            f"in_{month}", "cus_N", f"{year}-{m:02d}-01", paid_at=f"{year}-{m:02d}-02", lines=[("price_host", 100_000)]
        )
    w.save(engine)
    run(engine, "netsource", "2027-04-01")
    amounts = [e.amount_minor for e in entries(engine)]
    assert amounts == [10_000] * 15


def test_tech_consultant_base_tier_and_bonus(engine: Engine) -> None:
    w = World()
    w.partner("part_v")
    w.customer("cus_1")
    w.invoice("in_1", "cus_1", "2026-01-20", paid_at="2026-01-21", lines=[(None, 1)])
    amounts = [4_000_000, 5_000_000, 14_999_999, 15_000_000, 25_000_001, 50_000_001]
    for n, amount in enumerate(amounts):
        w.deal(f"deal_{n}", "v", "2026-01-01", amount=amount, close_date=f"2026-01-{10 + n}", external_key="cus_1")
    w.save(engine)
    run(engine, "tech-consultant", "2026-02-01")
    got = {(e.customer_key, e.kind): e.amount_minor for e in entries(engine)}
    assert got == {
        ("deal_0", "commission"): 120_000,  # 3% bronze
        ("deal_1", "commission"): 250_000,  # $50,000 is in the 5% band; bronze
        ("deal_2", "commission"): 900_000,  # 6% (5 + silver 1) of 14,999,999 = 899,999.94 -> 900,000
        ("deal_2", "bonus"): 100_000,
        ("deal_3", "commission"): 1_350_000,  # 8% + 1
        ("deal_3", "bonus"): 100_000,
        ("deal_4", "commission"): 2_250_000,  # 9% of 25,000,001 = 2,250,000.09 -> 2,250,000
        ("deal_4", "bonus"): 250_000,
        ("deal_5", "commission"): 5_000_000,  # 8% + gold 2 = 10% of 50,000,001 = 5,000,000.1
        ("deal_5", "bonus"): 500_000,
    }


def test_a_deal_below_every_band_without_a_default_is_held_rate_unknown_not_a_silent_zero(engine: Engine) -> None:
    """Tech consultant with its 0 band removed and no `rates.default`: a 40,000 USD deal has no rate.

    Its commission is booked at 0, held `rate_unknown` with a finding and a note naming the missing band;
    the next deal, in the 5 % band, is priced as usual (its ordinal counts the unpriced one: silver needs 3).
    """
    base = program("tech-consultant")
    prog = base.model_copy(update={"rates": base.rates.model_copy(
        update={"bands": base.rates.bands[1:], "default": None})})
    w = World()
    w.partner("part_v")
    w.customer("cus_1")
    w.invoice("in_1", "cus_1", "2026-01-20", paid_at="2026-01-21", lines=[(None, 1)])
    w.deal("deal_0", "v", "2026-01-01", amount=4_000_000, close_date="2026-01-10", external_key="cus_1")
    w.deal("deal_1", "v", "2026-01-01", amount=5_000_000, close_date="2026-01-11", external_key="cus_1")
    w.save(engine)
    run(engine, prog, "2026-02-01")
    got = {(e.customer_key, e.kind): (e.amount_minor, e.basis_minor, e.status, e.reason) for e in entries(engine)}
    assert got == {
        ("deal_0", "commission"): (0, 0, "held", "rate_unknown"),
        ("deal_1", "commission"): (250_000, 5_000_000, "payable", None),
    }
    held = next(e for e in entries(engine) if e.customer_key == "deal_0")
    assert "reaches no band of tech-consultant's rates.bands and there is no rates.default" in note_text(held.note)
    with Session(engine) as s:
        codes = [(f.code, f.detail) for f in s.scalars(select(Finding)) if f.code == "rate_unknown"]
    assert codes == [("rate_unknown", "project value 4000000 (usd minor units) reaches no rate band; no rates.default")]
