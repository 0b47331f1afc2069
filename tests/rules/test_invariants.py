"""Money invariants at the door (issue 15): an adjustment that cannot be right is quarantined with a
reason code and never booked, and its customer's entries are held `upstream_quarantined` until it is
fixed upstream; a quarantined deal holds its partner's entries (its tier ordinals are not known)."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from connector.store.db import session_factory, transaction
from connector.store.models import Quarantine, Refund
from connector.store.writes import quarantine, resolve_quarantined
from tests.rules.builders import World, entries, run


def _world() -> World:
    w = World()
    w.partner("part_ada")
    w.customer("cus_A")
    w.lead("lead_a", "ada", "2026-01-01", external_key="k", email="x@acme.io")
    w.referral("cust_a", "part_ada", "2026-01-02", customer_key="k", provider_key="cus_A")
    # 108,000 collected, 8,000 of it tax: Consio pays 20 % of 100,000
    w.invoice("in_1", "cus_A", "2026-02-01", paid_at="2026-02-02", tax=8000, lines=[(None, 100000)])
    return w


def _ledger(engine: Engine) -> dict[str, tuple[int, str, str | None]]:
    return {e.group_key.split("|", 3)[3]: (e.amount_minor, e.status, e.reason) for e in entries(engine, "consio")}


def _open(engine: Engine) -> dict[str, tuple[str | None, str | None]]:
    with Session(engine) as s:
        rows = s.scalars(select(Quarantine).where(Quarantine.resolved_at.is_(None)))
        return {f"{q.source}:{q.source_id}": (q.reason, q.customer_id) for q in rows}


HELD = (20000, "held", "upstream_quarantined")


def test_a_refund_larger_than_its_charge_is_quarantined_and_the_customer_held(engine: Engine) -> None:
    w = _world()
    w.refund("re_big", "in_1", 540000, "2026-02-10")  # five times the 108,000 charge
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    assert _ledger(engine) == {"commission|in_1": HELD}  # no -100,000 clawback booked
    assert _open(engine) == {"stripe.refunds:re_big": ("refund_exceeds_charge", "cus_A")}
    run(engine, "consio", "2026-03-02")  # judged again: still one row
    assert len(_open(engine)) == 1

    # fixed upstream: the refund was 54,000; the row resolves, the clawback is booked, the hold lifts
    with transaction(session_factory(engine)) as s:
        s.execute(update(Refund).where(Refund.id == "re_big").values(amount=54000, changed_seq=None))
    run(engine, "consio", "2026-03-03")
    assert _open(engine) == {}
    # 54,000 x 100,000 / 108,000 = 50,000 of net revenue; 20 % = 10,000
    assert _ledger(engine) == {
        "commission|in_1": (20000, "payable", None),
        "clawback|re_big": (-10000, "payable", None),
    }


def test_refunds_together_may_not_exceed_the_charge_the_one_that_crosses_is_set_aside(engine: Engine) -> None:
    w = _world()
    w.refund("re_1", "in_1", 54000, "2026-02-10")
    w.refund("re_2", "in_1", 60000, "2026-02-11")  # 54,000 + 60,000 = 114,000 > 108,000
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    assert _open(engine) == {"stripe.refunds:re_2": ("refund_exceeds_charge", "cus_A")}
    assert _ledger(engine) == {"commission|in_1": HELD, "clawback|re_1": (-10000, "held", "upstream_quarantined")}


def test_a_refund_in_another_currency_than_its_invoice_is_quarantined(engine: Engine) -> None:
    w = _world()
    w.refund("re_jpy", "in_1", 5000, "2026-02-10", currency="jpy")  # ¥5,000 on a USD invoice
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    assert _open(engine) == {"stripe.refunds:re_jpy": ("adjustment_currency_mismatch", "cus_A")}
    assert _ledger(engine) == {"commission|in_1": HELD}  # not booked as 5,000 cents


def test_a_credit_note_larger_than_its_invoice_is_quarantined(engine: Engine) -> None:
    w = _world()
    w.credit_note("cn_big", "in_1", total=216000, total_excluding_tax=200000, created="2026-02-10")
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    assert _open(engine) == {"stripe.credit_notes:cn_big": ("credit_note_exceeds_invoice", "cus_A")}
    assert _ledger(engine) == {"commission|in_1": HELD}


def test_a_lost_dispute_larger_than_its_charge_is_quarantined(engine: Engine) -> None:
    w = _world()
    w.dispute("dp_big", "in_1", 216000, "2026-02-10")
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    assert _open(engine) == {"stripe.disputes:dp_big": ("dispute_exceeds_charge", "cus_A")}
    assert _ledger(engine) == {"commission|in_1": HELD}


def test_an_adjustment_within_the_invariants_is_booked_as_before(engine: Engine) -> None:
    w = _world()
    w.refund("re_ok", "in_1", 108000, "2026-02-10")  # the whole charge: allowed
    w.save(engine)
    run(engine, "consio", "2026-03-01")
    assert _open(engine) == {}
    offset = "reversed", "offset"  # a whole refund before the push: the pair cancels out
    assert _ledger(engine) == {"commission|in_1": (20000, *offset), "clawback|re_ok": (-20000, *offset)}


def _deals(engine: Engine) -> dict[tuple[str, str], tuple[int, str, str | None]]:
    return {(e.customer_key or "", e.kind): (e.amount_minor, e.status, e.reason) for e in entries(engine)}


def test_a_quarantined_deal_holds_its_partners_entries_until_it_resolves(engine: Engine) -> None:
    """A deal quarantined for its amount ("20000.00", not integer minor units) would be one of the
    partner's referrals: without it the tier ordinals of the partner's later deals, and their rates,
    are not known. Their entries are held `upstream_quarantined` while it is unresolved."""
    w = World()
    w.partner("part_v")
    w.partner("part_w", ref="w")
    w.customer("cus_1")
    w.invoice("in_1", "cus_1", "2026-01-20", paid_at="2026-01-21", lines=[(None, 1)])
    for n in range(3):
        w.deal(f"deal_{n}", "v", "2026-01-01", amount=4_000_000, close_date=f"2026-01-1{n}", external_key="cus_1")
    w.deal("deal_w", "w", "2026-01-01", amount=4_000_000, close_date="2026-01-10", external_key="cus_1")
    w.save(engine)
    with transaction(session_factory(engine)) as s:
        quarantine(
            s, run_id=None, source="partnerstack.deals", source_id="deal_q",
            error="amount: '20000.00' is not an integer", reason="unmappable", partner_key="v",
        )  # fmt: skip
    run(engine, "tech-consultant", "2026-02-01")
    got = _deals(engine)
    # deal_2 is v's third referral (silver, 3 % + 1 %) only if deal_q is not one of v's first three
    assert got[("deal_2", "commission")] == (160_000, "held", "upstream_quarantined")
    assert {got[(f"deal_{n}", "commission")][1:] for n in range(3)} == {("held", "upstream_quarantined")}
    assert got[("deal_w", "commission")] == (120_000, "payable", None)  # another partner: not held

    with transaction(session_factory(engine)) as s:
        resolve_quarantined(s, None, Quarantine.source_id == "deal_q")
    run(engine, "tech-consultant", "2026-02-02")
    assert {_deals(engine)[(f"deal_{n}", "commission")][1:] for n in range(3)} == {("payable", None)}
