"""Properties of the whole pipeline: incremental == full recompute, the floor holds, order is irrelevant."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlalchemy.orm import DeclarativeBase

from connector.store.db import session_factory, transaction
from connector.store.models import Base, LedgerEntry
from connector.store.writes import upsert_rows
from tests.rules.builders import World, entries, group_sums, run

UTC = dt.UTC
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
END = "2027-01-01"
PROPERTY_SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _day(n: int) -> str:
    return (START + dt.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """A small Consio world: partners, customers, invoices with tax, refunds, disputes, costs."""
    w = World()
    w.partner("part_a", group="master")
    w.partner("part_b", group="elite", bank=draw(st.sampled_from(["iban", None])))
    w.product("prod_p")
    w.price("price_p", "prod_p", 1000)
    for c in range(draw(st.integers(1, 3))):
        cus, partner = f"cus_{c}", draw(st.sampled_from(["a", "b"]))
        w.customer(cus)
        w.lead(f"lead_{c}", partner, _day(c), external_key=f"k{c}", email=f"x@c{c}.io")
        w.referral(f"cust_{c}", f"part_{partner}", _day(c + 1), customer_key=f"k{c}", provider_key=cus)
        for i in range(draw(st.integers(0, 4))):
            net = draw(st.integers(1, 300_000))
            tax = draw(st.integers(0, net // 4))
            paid_day = draw(st.integers(5, 300))
            iid = f"in_{c}_{i}"
            w.invoice(iid, cus, _day(paid_day - 1), paid_at=_day(paid_day), tax=tax, lines=[("price_p", net)])
            if draw(st.booleans()):
                w.refund(f"re_{c}_{i}", iid, draw(st.integers(1, net + tax)), _day(paid_day + draw(st.integers(0, 40))))
            if draw(st.integers(0, 4)) == 0:
                w.dispute(
                    f"dp_{c}_{i}", iid, draw(st.integers(1, net + tax)), _day(paid_day + draw(st.integers(1, 60)))
                )
        for _ in range(draw(st.integers(0, 2))):
            w.cost(
                cus, _day(draw(st.integers(0, 330)))[:10], draw(st.integers(1, 200_000)), note=str(draw(st.integers()))
            )
    return w


def _wipe(engine: Engine) -> None:
    with transaction(session_factory(engine)) as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))


def _rows(world: World) -> list[tuple[type[DeclarativeBase], dict[str, Any]]]:
    return [(model, row) for model, rows in world.rows.items() for row in rows]


def _insert(engine: Engine, rows: list[tuple[type[DeclarativeBase], dict[str, Any]]]) -> None:
    with transaction(session_factory(engine)) as s:
        for model, row in rows:
            upsert_rows(s, model, [row])


def _customer_totals(engine: Engine) -> dict[tuple[str, str | None, str], int]:
    totals: dict[tuple[str, str | None, str], int] = defaultdict(int)
    for e in entries(engine):
        totals[(e.partnership_key, e.customer_key, e.currency)] += e.amount_minor
    return totals


@PROPERTY_SETTINGS
@given(world=worlds(), cuts=st.lists(st.integers(0, 400), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_incremental_equals_full_recompute_and_never_below_zero(
    engine: Engine, world: World, cuts: list[int], seed: int
) -> None:
    _wipe(engine)
    rows = _rows(world)
    random.Random(seed).shuffle(rows)
    bounds = sorted({min(c, len(rows)) for c in cuts} | {len(rows)})
    done = 0
    for n, bound in enumerate(bounds):  # data arrives in batches; each run sees time move on too
        _insert(engine, rows[done:bound])
        done = bound
        run(engine, "consio", _day(100 * (n + 1)) if bound < len(rows) else END)
        assert all(total >= 0 for total in _customer_totals(engine).values())
    incremental = group_sums(engine)
    with transaction(session_factory(engine)) as s:
        s.execute(delete(LedgerEntry))
    run(engine, "consio", END)
    assert group_sums(engine) == incremental
    assert all(total >= 0 for total in _customer_totals(engine).values())


@PROPERTY_SETTINGS
@given(world=worlds(), seed=st.integers(0, 2**16))
def test_input_order_changes_nothing(engine: Engine, world: World, seed: int) -> None:
    def ledger_for(rows: list[tuple[type[DeclarativeBase], dict[str, Any]]]) -> list[tuple[str, int, str, str | None]]:
        _wipe(engine)
        _insert(engine, rows)
        run(engine, "consio", END)
        return [(e.entry_key, e.amount_minor, e.status, e.reason) for e in entries(engine)]

    rows = _rows(world)
    baseline = ledger_for(rows)
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    assert ledger_for(shuffled) == baseline
