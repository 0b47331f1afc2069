"""Every entry explains itself (issue 16, item 2): the note's arithmetic, caps and corrections, exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from connector.ledger.corrections import explain_correction
from connector.ledger.entries import EntryRow
from connector.mapping.outbound import parse_reward_body
from connector.rules.desired import DesiredEntry, note_text
from connector.rules.kinds import floor_at_zero
from connector.rules.notes import Explained, arithmetic, num

DAY = dt.datetime(2026, 2, 10, tzinfo=dt.UTC)


def test_numbers_are_grouped_minor_units_with_a_true_minus() -> None:
    assert num(-120000) == "−120,000"
    assert num(Fraction(200000, 3)) == "66,666.6667"
    assert arithmetic(Fraction(-120000), Decimal("0.20")) == "basis −120,000 × 0.20 = −24,000"
    # the one half-up rounding is said when it moved the exact product
    assert arithmetic(Fraction(100003), Decimal("0.20")) == (
        "basis 100,003 × 0.20 = 20,000.6000, rounded half-up to 20,001")


def _desired(source: str, amount_basis: int, at: dt.datetime, note: Explained) -> DesiredEntry:
    rate = Decimal("0.20")
    return DesiredEntry(f"consio|part_ada|cust_gull|x|{source}", "part_ada", "cust_gull",
                        "clawback" if amount_basis < 0 else "commission", Fraction(amount_basis), rate,
                        int(Fraction(amount_basis) * Fraction(rate)), "usd", (source,), at, note=note)


def test_the_floor_cap_follows_the_arithmetic_it_caps() -> None:
    """The demo's trade-show cost: −120,000 × 0.20 = −24,000 against 16,000 earned so far."""
    earned = _desired("in_G1", 80000, DAY - dt.timedelta(days=30), Explained("invoice in_G1", Fraction(80000),
                                                                            Decimal("0.20"), "consio rule"))
    cost = _desired("cost1", -120000, DAY, Explained("marketing cost 'trade show'", Fraction(-120000),
                                                   Decimal("0.20"), "consio rule"))
    out = floor_at_zero([cost, earned])
    capped = next(e for e in out if e.kind == "clawback")
    assert capped.amount == -16000 and capped.basis == -80000
    assert note_text(capped.note) == (
        "marketing cost 'trade show'; basis −120,000 × 0.20 = −24,000, capped at −16,000 (basis counted −80,000) "
        "so the total of cust_gull stays at zero (never below zero, in event-time order); rule: consio rule"
    )


def _row(seq: int, basis: int, amount: int, rate: str = "0.20") -> EntryRow:
    group = "consio|part_ada|cust_acme|commission|in_A1"
    return EntryRow(f"{group}#{seq}", group, "part_ada", "cust_acme", "commission", basis, rate, amount, "usd",
                    "pushed", None, ("in_A1",), DAY, DAY, "sent", f"rwd_{seq}", DAY, "run", "run")


def test_a_correction_names_what_it_corrects_what_changed_and_the_new_arithmetic() -> None:
    target = DesiredEntry("consio|part_ada|cust_acme|commission|in_A1", "part_ada", "cust_acme", "commission",
                          Fraction(90000), Decimal("0.25"), 22500, "usd", ("in_A1",), DAY, note="new arithmetic")
    note = explain_correction([_row(0, 100000, 20000), _row(1, -5000, -1000)], target, "new arithmetic")
    assert note == (
        "correction of consio|part_ada|cust_acme|commission|in_A1#0 "
        "(with consio|part_ada|cust_acme|commission|in_A1#1): "
        "changed basis 95,000 → 90,000, rate 0.20 → 0.25; booked 19,000, now 22,500, difference 3,500. "
        "Now: new arithmetic"
    )
    assert explain_correction([], target, "first") == "first"  # a first entry: the rules' own note
    assert explain_correction([_row(0, 100000, 20000)], None, None) == (
        "take-back of consio|part_ada|cust_acme|commission|in_A1#0: the rules no longer give this entry for the "
        "world as it now stands; booked 20,000, now 0, difference −20,000"
    )


def test_the_pushed_description_carries_the_note_and_keeps_its_marker_whole() -> None:
    spec = parse_reward_body({"description_max_chars": 200}, "test")
    key = "consio|part_ada|cust_acme|commission|in_A1#0"
    short = spec.describe({"prefix": "rc", "kind": "commission", "program": "consio", "customer_key": "cust_acme",
                           "entry_key": key, "note": "basis 100,000 × 0.20 = 20,000"})
    assert short == f"rc: commission consio cust_acme: basis 100,000 × 0.20 = 20,000 [entry:{key}]"
    long = spec.describe({"prefix": "rc", "kind": "commission", "program": "consio", "customer_key": "cust_acme",
                          "entry_key": key, "note": "x" * 500})
    assert len(long) == 200 and long.endswith(f"… [entry:{key}]")
    bare = spec.describe({"prefix": "rc", "kind": "commission", "program": "consio", "customer_key": "cust_acme",
                          "entry_key": key, "note": None})
    assert bare == f"rc: commission consio cust_acme [entry:{key}]"
