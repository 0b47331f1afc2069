"""The optional `dispute_open` gate: an open dispute holds its invoice's unpushed entries until it closes.

Won releases them, lost books the clawback as without the gate; entries already pushed are never
touched; a program that does not list the gate (no seed program does) holds nothing for a dispute.
Incremental compute follows a dispute's status change exactly as a full recompute does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from connector.ledger.compute import compute
from connector.rules.program import GATE_RULES, Program, load_program
from connector.store.db import make_engine, session_factory, transaction
from connector.store.models import Dispute, LedgerEntry
from connector.store.writes import upsert_rows
from tests.conftest import REPO, fresh_database
from tests.rules.builders import World, context, entries, program

SEEDS = ("consio", "netsource", "connectus", "tech-consultant")


def _with_gate(name: str = "consio") -> Program:
    base = program(name)
    gates = base.gates.model_copy(update={"rules": [*base.gates.rules, "dispute_open"]})
    return base.model_copy(update={"gates": gates})


def _world() -> World:
    w = World()
    w.partner("part_ada")
    w.product("prod_sw", "software")
    w.price("price_sw", "prod_sw", 100000)
    w.customer("cus_A")
    w.lead("lead_a", "ada", "2026-01-01", external_key="k", email="x@acme.io")
    w.referral("cust_a", "part_ada", "2026-01-02", customer_key="k", provider_key="cus_A")
    # 20 % of 100000 = 20000 and 20 % of 50000 = 10000
    w.invoice("in_1", "cus_A", "2026-02-01", paid_at="2026-02-02", lines=[("price_sw", 100000)])
    w.invoice("in_2", "cus_A", "2026-03-01", paid_at="2026-03-02", lines=[("price_sw", 50000)])
    return w


def _ledger(engine: Engine) -> dict[str, tuple[int, str, str | None]]:
    """entry key (without program, partner, customer) -> (amount, status, reason)."""
    return {e.entry_key.split("|", 3)[3]: (e.amount_minor, e.status, e.reason) for e in entries(engine)}


def _set_dispute(engine: Engine, did: str, status: str) -> None:
    with transaction(session_factory(engine)) as s:
        row = s.get(Dispute, did)
        assert row is not None
        upsert_rows(s, Dispute, [{**{c.key: getattr(row, c.key) for c in Dispute.__table__.columns}, "status": status}])


def test_no_seed_program_lists_the_gate_but_the_schema_accepts_it(tmp_path: Path) -> None:
    assert "dispute_open" in GATE_RULES and GATE_RULES[-1] == "dispute_open"  # programs.md's table order
    for name in SEEDS:
        assert "dispute_open" not in program(name).gates.rules
    text = (REPO / "programs" / "consio.toml").read_text()
    text = text.replace('"application_incomplete"]', '"application_incomplete", "dispute_open"]')
    assert text.count("dispute_open") == 1
    path = tmp_path / "consio-disputes.toml"
    path.write_text(text)
    assert load_program(path).gates.rules[-1] == "dispute_open"


@pytest.mark.parametrize(
    "status", ["warning_needs_response", "warning_under_review", "needs_response", "under_review"]
)
def test_an_open_dispute_holds_its_invoices_entries_only(engine: Engine, status: str) -> None:
    w = _world()
    w.refund("re_1", "in_1", 10000, "2026-02-10")  # a refund on the disputed invoice is held with it
    w.dispute("dp_1", "in_1", 30000, "2026-02-12", status=status)
    w.save(engine)
    compute(context(engine, "2026-04-01"), _with_gate())
    assert _ledger(engine) == {
        "commission|in_1#0": (20000, "held", "dispute_open"),
        "clawback|re_1#0": (-2000, "held", "dispute_open"),
        "commission|in_2#0": (10000, "payable", None),
    }


def test_without_the_gate_an_open_dispute_holds_nothing(engine: Engine) -> None:
    w = _world()
    w.dispute("dp_1", "in_1", 30000, "2026-02-12", status="needs_response")
    w.save(engine)
    compute(context(engine, "2026-04-01"), program("consio"))
    assert _ledger(engine) == {
        "commission|in_1#0": (20000, "payable", None),
        "commission|in_2#0": (10000, "payable", None),
    }


def test_a_partner_gate_comes_first(engine: Engine) -> None:
    w = World()
    for model, rows in _world().rows.items():
        for row in rows:
            w.add(model, **({**row, "tax_form": None} if row.get("key") == "part_ada" else row))
    w.dispute("dp_1", "in_1", 30000, "2026-02-12", status="needs_response")
    w.save(engine)
    compute(context(engine, "2026-04-01"), _with_gate())
    assert {k: v[2] for k, v in _ledger(engine).items()} == {
        "commission|in_1#0": "tax_form_missing",
        "commission|in_2#0": "tax_form_missing",
    }


def test_a_dispute_created_after_the_as_of_time_holds_nothing_yet(engine: Engine) -> None:
    w = _world()
    w.dispute("dp_1", "in_1", 30000, "2026-05-01", status="needs_response")
    w.save(engine)
    compute(context(engine, "2026-04-01", run_id="r1"), _with_gate())
    assert _ledger(engine)["commission|in_1#0"] == (20000, "payable", None)
    compute(context(engine, "2026-05-02", run_id="r2"), _with_gate())
    assert _ledger(engine)["commission|in_1#0"] == (20000, "held", "dispute_open")


def test_won_releases_and_lost_books_the_clawback(engine: Engine) -> None:
    w = _world()
    w.dispute("dp_won", "in_1", 30000, "2026-02-12", status="needs_response")
    w.dispute("dp_lost", "in_2", 20000, "2026-03-12", status="under_review")
    w.save(engine)
    compute(context(engine, "2026-04-01", run_id="r1"), _with_gate())
    assert {k: v[1:] for k, v in _ledger(engine).items()} == {
        "commission|in_1#0": ("held", "dispute_open"),
        "commission|in_2#0": ("held", "dispute_open"),
    }
    _set_dispute(engine, "dp_won", "won")
    _set_dispute(engine, "dp_lost", "lost")
    result = compute(context(engine, "2026-04-01", run_id="r2"), _with_gate(), incremental=True)
    assert (result.mode, result.full_reason, result.customers_recomputed) == ("incremental", None, 1)
    # dp_lost: 20000 x 20 % = -4000 against in_2's 10000, both payable (neither pushed, not a full offset)
    assert _ledger(engine) == {
        "commission|in_1#0": (20000, "payable", None),
        "commission|in_2#0": (10000, "payable", None),
        "clawback|dp_lost#0": (-4000, "payable", None),
    }


def test_a_pushed_entry_is_never_held(engine: Engine) -> None:
    w = _world()
    w.save(engine)
    compute(context(engine, "2026-04-01", run_id="r1"), _with_gate())
    with transaction(session_factory(engine)) as s:
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.entry_key.like("%commission|in_1#0"))
            .values(status="pushed", push_state="sent", platform_reward_key="rwd_1")
        )
    d = World()
    d.dispute("dp_1", "in_1", 30000, "2026-03-20", status="needs_response")
    d.refund("re_1", "in_1", 10000, "2026-03-21")
    d.save(engine)
    compute(context(engine, "2026-04-01", run_id="r2"), _with_gate())
    assert _ledger(engine) == {
        "commission|in_1#0": (20000, "pushed", None),
        "clawback|re_1#0": (-2000, "held", "dispute_open"),
        "commission|in_2#0": (10000, "payable", None),
    }


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Engine]:
    with fresh_database(tmp_path, "reference") as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with session_factory(engine)() as s:
        return [
            (e.entry_key, e.amount_minor, e.status, e.reason, e.created_run_id)
            for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.entry_key))
        ]


def test_incremental_follows_the_dispute_as_a_full_recompute_does(engine: Engine, reference: Engine) -> None:
    gated = _with_gate()
    w = _world()
    w.dispute("dp_1", "in_1", 100000, "2026-02-12", status="warning_needs_response")
    for eng in (engine, reference):
        w.save(eng)
    steps = ["warning_needs_response", "warning_under_review", "warning_closed", "needs_response", "lost"]
    for n, status in enumerate(steps):
        for eng in (engine, reference):
            _set_dispute(eng, "dp_1", status)
        compute(context(engine, "2026-04-01", run_id=f"r{n}"), gated, incremental=True)
        compute(context(reference, "2026-04-01", run_id=f"r{n}"), gated, incremental=False)
        assert _rows(engine) == _rows(reference), status
    # lost in full: the clawback offsets the commission, neither pushed, so both are reversed
    assert [(r[0].split("|", 3)[3], r[1], r[2]) for r in _rows(engine)] == [
        ("clawback|dp_1#0", -20000, "reversed"),
        ("commission|in_1#0", 20000, "reversed"),
        ("commission|in_2#0", 10000, "payable"),
    ]
