"""Incremental compute writes exactly what a full recompute writes, and nothing when nothing changed.

The differential test drives two databases through the same history (records arriving and
changing, time passing: scheduled entries falling due, invoices going past due, records
dated later becoming visible), computing one incrementally and the other in full at every
step with the same run id, and compares the ledgers entry by entry, the decisions and the
findings. At the end a full recompute over the incremental database must add nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import DeclarativeBase

from connector.ledger.compute import ComputeResult, compute
from connector.store.db import make_engine, session_factory, transaction
from connector.store.models import (
    Base,
    ChangeClock,
    CreditNote,
    Deal,
    Decision,
    Finding,
    Invoice,
    InvoicePayment,
    Lead,
    LedgerEntry,
    Partner,
    Price,
    Referral,
    Subscription,
    SubscriptionItem,
)
from connector.store.writes import upsert_rows
from tests.conftest import fresh_database
from tests.rules.builders import World, context, program, t

UTC = dt.UTC
START = dt.datetime(2026, 1, 1, tzinfo=UTC)
PROGRAMS = ("consio", "netsource", "connectus", "tech-consultant")
Rows = list[tuple[type[DeclarativeBase], dict[str, Any]]]


def _day(n: float) -> str:
    return (START + dt.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- databases


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Engine]:
    """A second database: the full-recompute twin of `engine`."""
    with fresh_database(tmp_path, "reference") as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


def _reset(engine: Engine) -> None:
    """Empty, as freshly migrated (the change clock at its first tick)."""
    with transaction(session_factory(engine)) as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))
        s.execute(insert(ChangeClock).values(id=1, seq=1))


def _write(engine: Engine, rows: Rows) -> None:
    with transaction(session_factory(engine)) as s:
        for model, row in rows:
            upsert_rows(s, model, [row])


def _run(engine: Engine, prog: str, as_of: str, run_id: str, *, incremental: bool) -> ComputeResult:
    return compute(context(engine, as_of, run_id=run_id), program(prog), incremental=incremental)


def _ledger(engine: Engine) -> list[tuple[Any, ...]]:
    with session_factory(engine)() as s:
        return [
            (e.entry_key, e.program, e.partnership_key, e.customer_key, e.kind, e.basis_minor, e.rate, e.amount_minor,
             e.currency, e.status, e.reason, list(e.sources), e.event_at, e.payable_at, e.created_run_id, e.note,
             e.push_state)
            for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.entry_key))
        ]  # fmt: skip


def _decisions(engine: Engine) -> list[tuple[Any, ...]]:
    with session_factory(engine)() as s:
        return [
            (d.program, d.submission_key, d.submission_type, d.partnership_key, d.customer_key, d.decision, d.reason,
             d.submitted_at, d.run_id)
            for d in s.scalars(select(Decision).order_by(Decision.program, Decision.submission_key))
        ]  # fmt: skip


def _findings(engine: Engine, run_id: str) -> list[tuple[Any, ...]]:
    with session_factory(engine)() as s:
        stmt = select(Finding.program, Finding.subject_key, Finding.code, Finding.detail)
        stmt = stmt.where(Finding.run_id == run_id)
        return sorted(tuple(row) for row in s.execute(stmt))


# ---------------------------------------------------------------- a world that changes


class History:
    """A small world for one program and the changes that happen to it, drawn from one seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.world = World()
        self.current: dict[tuple[type[DeclarativeBase], str], dict[str, Any]] = {}
        self.customers: list[str] = []
        self.invoices: list[str] = []
        self.serial = 0

    def rows(self, world: World) -> Rows:
        out: Rows = []
        for model, rows in world.rows.items():
            for row in rows:
                pk = row.get("id") or row.get("key")
                self.current[(model, str(pk))] = row
                out.append((model, row))
        self.rng.shuffle(out)
        return out

    def changed(self, model: type[DeclarativeBase], pk: str, **values: Any) -> tuple[type[DeclarativeBase], dict]:
        row = {**self.current[(model, pk)], **values}
        self.current[(model, pk)] = row
        return model, row

    def initial(self) -> Rows:
        rng, w = self.rng, self.world
        w.product("prod_sw", unit_cost=200)
        w.product("prod_hw", category="hardware", unit_cost=900)
        w.price("price_sw", "prod_sw", 1000)
        w.price("price_hw", "prod_hw", 5000, type="one_time")
        for p in "abc":
            w.partner(
                f"part_{p}", group=rng.choice(["master", "elite"]), bank=rng.choice(["account", "iban", None]),
                referrer_relationship=rng.choice(["customer", "employee_with_consent", None]),
            )  # fmt: skip
        for c in range(rng.randint(3, 7)):
            self.customer(w, c)
        return self.rows(w)

    def customer(self, w: World, c: int) -> None:
        rng = self.rng
        cus, partner = f"cus_{c}", rng.choice("abc")
        self.customers.append(cus)
        w.customer(cus)
        domain = rng.choice([f"c{c}.io", "shared.io", "gmail.com"])  # a shared domain makes duplicates
        lead_day = rng.randint(-60, 100)  # some submissions appear only as time passes
        w.lead(f"lead_{c}", partner, _day(lead_day), external_key=f"k{c}", email=f"x@{domain}",
               consent=rng.random() > 0.1)  # fmt: skip
        w.referral(f"cust_{c}", f"part_{partner}", _day(lead_day + 1), customer_key=f"k{c}", provider_key=cus,
                   email=f"y@{domain}", name=f"Company {c}")  # fmt: skip
        start = lead_day + rng.randint(1, 20)
        items = [("price_sw", rng.randint(1, 3))] + ([("price_hw", 1)] if rng.random() < 0.3 else [])
        w.subscription(f"sub_{c}", cus, _day(start), items, term_months=rng.choice([None, 3, 12]))
        for month in range(rng.randint(0, 5)):  # monthly invoices, some dated later than the first as-of
            self.invoice(w, cus, start + 30 * month + rng.randint(0, 5))
        if rng.random() < 0.6:  # issued and due later: it goes past due as time passes, unless paid
            self.serial += 1
            self.invoices.append(iid := f"in_{self.serial}")
            w.invoice(iid, cus, _day(start + rng.randint(0, 60)), due_date=_day(start + rng.randint(60, 200)),
                      lines=[("price_sw", rng.randint(500, 5_000))])  # fmt: skip
        if rng.random() < 0.6:
            stage = rng.choice(["closed won", "closed won", "negotiation"])
            w.deal(f"deal_{c}", partner, _day(lead_day), amount=rng.choice([20_000, 80_000, 200_000, 600_000]),
                   stage=stage, close_date=_day(lead_day + rng.randint(5, 90)), external_key=cus)  # fmt: skip
        if rng.random() < 0.4:
            w.cost(cus, _day(start + rng.randint(0, 100))[:10], rng.randint(100, 30_000), note=f"c{c}")

    def invoice(self, w: World, cus: str, day: int) -> None:
        rng = self.rng
        self.serial += 1
        iid = f"in_{self.serial}"
        self.invoices.append(iid)
        net, tax = rng.randint(500, 90_000), rng.choice([0, 800])
        if rng.random() < 0.15:  # still open: goes past due once as-of passes its due date
            w.invoice(iid, cus, _day(day), due_date=_day(day + rng.choice([0, 14, 30])), tax=tax,
                      lines=[("price_sw", net)])  # fmt: skip
            return
        w.invoice(iid, cus, _day(day), paid_at=_day(day + rng.choice([0, 0, 3])), tax=tax,
                  lines=[("price_sw", net)] + ([("price_hw", 5000)] if rng.random() < 0.2 else []))  # fmt: skip
        roll = rng.random()
        if roll < 0.2:
            w.refund(f"re_{iid}", iid, rng.randint(1, net + tax), _day(day + rng.randint(1, 60)))
        elif roll < 0.3:
            w.dispute(f"dp_{iid}", iid, rng.randint(1, net + tax), _day(day + rng.randint(1, 60)),
                      status=rng.choice(["lost", "won"]))  # fmt: skip
        elif roll < 0.4:
            refund = f"re_{iid}" if rng.random() < 0.5 else None
            if refund:
                w.refund(refund, iid, net // 2, _day(day + 5))
            w.credit_note(f"cn_{iid}", iid, net // 2, net // 2, _day(day + rng.randint(1, 60)),
                          refunds=[refund] if refund else None)  # fmt: skip

    def step(self, as_of: int) -> Rows:
        """Some of: new records, records that change (a payment, a partner's bank details, a deal won)."""
        rng = self.rng
        out: Rows = []
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            kind = rng.choice(["new_invoice", "pay", "partner", "lead", "referral", "deal", "quantity", "cost",
                               "new_customer", "void_credit", "payment_moves", "cancel", "unpaid"])  # fmt: skip
            w = World()
            w.rows[Price] = self.world.rows[Price]  # the builders look prices up
            if kind == "new_invoice" and self.customers:
                self.invoice(w, rng.choice(self.customers), as_of + rng.randint(-20, 40))
            elif kind == "new_customer":
                self.customer(w, len(self.customers) + 100)
            elif kind == "cost" and self.customers:
                w.cost(rng.choice(self.customers), _day(as_of + rng.randint(-10, 20))[:10], rng.randint(100, 9_000),
                       note=f"s{as_of}")  # fmt: skip
            elif kind == "pay":
                open_ = [i for i in self.invoices if self.current[(Invoice, i)]["status"] == "open"]
                if open_:
                    iid = rng.choice(open_)
                    inv = self.current[(Invoice, iid)]
                    paid = t(_day(as_of - rng.randint(0, 3)))
                    out.append(self.changed(Invoice, iid, status="paid", paid_at=paid, amount_paid=inv["amount_due"],
                                            amount_remaining=0))  # fmt: skip
                    out.append(self.changed(InvoicePayment, f"inpay_{iid}", status="paid",
                                            amount_paid=inv["amount_due"]))  # fmt: skip
            elif kind == "partner":
                p = f"part_{rng.choice('abc')}"
                out.append(self.changed(Partner, p, bank_kind=rng.choice(["account", "iban", None]),
                                        group_slug=rng.choice(["master", "elite", "sales"])))  # fmt: skip
            elif kind == "lead":
                c = rng.choice(self.customers).removeprefix("cus_")
                out.append(self.changed(Lead, f"lead_{c}", email=f"x@{rng.choice(['shared.io', 'z.io'])}",
                                        consent=rng.random() > 0.2))  # fmt: skip
            elif kind == "referral":
                c = rng.choice(self.customers).removeprefix("cus_")
                out.append(self.changed(Referral, f"cust_{c}", name=f"Renamed {as_of}", test=rng.random() < 0.15))
            elif kind == "deal":
                deals = [k for (m, k) in self.current if m is Deal]
                if deals:
                    key = rng.choice(deals)
                    out.append(
                        self.changed(
                            Deal,
                            key,
                            stage="closed won",
                            amount=rng.choice([30_000, 160_000]),
                            close_date=START + dt.timedelta(days=as_of + rng.randint(-5, 30)),
                        )
                    )
            elif kind == "quantity":
                items = [k for (m, k) in self.current if m is SubscriptionItem]
                if items:
                    out.append(self.changed(SubscriptionItem, rng.choice(items), quantity=rng.randint(1, 5)))
            elif kind == "void_credit":
                notes = [k for (m, k) in self.current if m is CreditNote]
                if notes:
                    out.append(self.changed(CreditNote, rng.choice(notes), status="void"))
            elif kind == "unpaid":  # an open invoice voided (no longer owed) or marked uncollectible (still owed)
                open_ = [i for i in self.invoices if self.current[(Invoice, i)]["status"] == "open"]
                if open_:
                    out.append(self.changed(Invoice, rng.choice(open_), status=rng.choice(["void", "uncollectible"])))
            elif kind == "cancel":  # a first subscription cancelled, before or after a reward's payable date
                subs = [k for (m, k) in self.current if m is Subscription]
                if subs:
                    when = START + dt.timedelta(days=as_of + rng.randint(-90, 10))
                    out.append(self.changed(Subscription, rng.choice(subs), status="canceled", canceled_at=when))
            elif kind == "payment_moves" and len(self.invoices) > 1:
                # another invoice's payment now carries the same payment intent: its refunds move
                a, b = rng.sample(self.invoices, 2)
                out.append(self.changed(InvoicePayment, f"inpay_{b}", payment_intent=f"pi_{a}"))
            out.extend(self.rows(w))
        return out


SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.mark.parametrize("prog", PROGRAMS)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=2609707850)  # netsource: a payment's intent moving away left the refund's next customer out
def test_incremental_writes_what_a_full_recompute_writes(
    engine: Engine, reference: Engine, prog: str, seed: int
) -> None:
    rng = random.Random(seed)
    _reset(engine)
    _reset(reference)
    history = History(rng)
    rows = history.initial()
    as_of, passed = rng.randint(0, 60), 0
    modes = []
    for step in range(7):
        _write(engine, rows)
        _write(reference, rows)
        run_id = f"run-{step}"
        inc = _run(engine, prog, _day(as_of), run_id, incremental=True)
        full = _run(reference, prog, _day(as_of), run_id, incremental=False)
        modes.append(inc.mode)
        assert _ledger(engine) == _ledger(reference), f"step {step} at day {as_of}"
        assert _decisions(engine) == _decisions(reference)
        assert _findings(engine, run_id) == _findings(reference, run_id)
        assert (inc.entries_appended, inc.statuses_changed, inc.reversed, inc.decisions, inc.rejected_reasons) == (
            full.entries_appended,
            full.statuses_changed,
            full.reversed,
            full.decisions,
            full.rejected_reasons,
        )
        if step and not rows and not passed:  # nothing arrived, no time passed: no customer is read
            assert inc.customers_recomputed == 0
        passed = rng.choice([0, 0, 1, 9, 31, 45, 92])  # time passes: due dates, payable dates, later records
        as_of += passed
        rows = history.step(as_of) if step < 6 else []
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
    before = _ledger(engine)
    again = _run(engine, prog, _day(as_of - passed), "run-final", incremental=False)
    assert (again.entries_appended, again.statuses_changed, again.reversed) == (0, 0, 0)
    assert _ledger(engine) == before


# ---------------------------------------------------------------- exact cases


def _twins(
    engine: Engine, reference: Engine, prog: str, steps: list[tuple[Rows, str]], first: int = 0
) -> list[ComputeResult]:
    """Each step's rows written to both databases, then computed incrementally / in full at its as-of."""
    out = []
    for n, (rows, as_of) in enumerate(steps, start=first):
        _write(engine, rows)
        _write(reference, rows)
        out.append(_run(engine, prog, as_of, f"run-{n}", incremental=True))
        _run(reference, prog, as_of, f"run-{n}", incremental=False)
        assert _ledger(engine) == _ledger(reference), f"step {n}"
        assert _decisions(engine) == _decisions(reference), f"step {n}"
        assert _findings(engine, f"run-{n}") == _findings(reference, f"run-{n}"), f"step {n}"
    return out


def _rows(world: World) -> Rows:
    return [(model, row) for model, rows in world.rows.items() for row in rows]


def _consio_world(customers: int) -> World:
    w = World()
    w.partner("part_a")
    w.product("prod_p")
    w.price("price_p", "prod_p", 1000)
    for c in range(customers):
        w.lead(f"lead_{c}", "a", "2026-01-02", external_key=f"k{c}", email=f"x@c{c}.io")
        w.referral(f"cust_{c}", "part_a", "2026-01-03", customer_key=f"k{c}", provider_key=f"cus_{c}")
        w.invoice(f"in_{c}", f"cus_{c}", "2026-01-10", paid_at="2026-01-10", lines=[("price_p", 10_000 + c)])
    return w


def test_no_change_recomputes_no_customer(engine: Engine, reference: Engine) -> None:
    world = _consio_world(5)
    first, same, later = _twins(engine, reference, "consio", [
        (_rows(world), "2026-03-01"), ([], "2026-03-01"), ([], "2026-04-01"),
    ])  # fmt: skip
    assert (first.mode, first.full_reason, first.customers_recomputed, first.entries_appended) == (
        "full",
        "no earlier compute",
        5,
        5,
    )
    for again in (same, later):
        assert (again.mode, again.customers_recomputed, again.entries_appended, again.statuses_changed) == (
            "incremental",
            0,
            0,
            0,
        )
        assert again.decisions == first.decisions == {"qualified": 5}


def test_identical_rows_written_again_change_nothing(engine: Engine, reference: Engine) -> None:
    world = _consio_world(3)
    _, again = _twins(engine, reference, "consio", [(_rows(world), "2026-03-01"), (_rows(world), "2026-03-01")])
    assert again.customers_recomputed == 0


def test_one_changed_invoice_recomputes_its_customer_only(engine: Engine, reference: Engine) -> None:
    world = _consio_world(5)
    refund = World()
    refund.refund("re_1", "in_1", 4_000, "2026-02-01")
    _, changed = _twins(engine, reference, "consio", [(_rows(world), "2026-03-01"), (_rows(refund), "2026-03-01")])
    assert (changed.mode, changed.customers_recomputed, changed.entries_appended) == ("incremental", 1, 1)
    assert [e[3] for e in _ledger(engine) if e[4] == "clawback"] == ["cust_1"]


def test_a_payment_intent_moving_recomputes_both_customers(engine: Engine, reference: Engine) -> None:
    """A refund lands on the first invoice payment (by id) carrying its payment intent: when another
    customer's payment starts carrying it, the refund moves from one customer to the other."""
    world = _consio_world(2)
    world.refund("re_1", "in_1", 4_000, "2026-02-01")
    moved = dict(next(r for r in world.rows[InvoicePayment] if r["id"] == "inpay_in_0"), payment_intent="pi_in_1")
    _, after = _twins(engine, reference, "consio", [
        (_rows(world), "2026-03-01"), ([(InvoicePayment, moved)], "2026-03-01"),
    ])  # fmt: skip
    assert after.customers_recomputed == 2
    clawbacks = {(e[3], e[7]) for e in _ledger(engine) if e[4] == "clawback"}
    assert clawbacks == {("cust_1", -800), ("cust_0", -800), ("cust_1", 800)}


def test_a_payment_intent_moving_away_recomputes_the_customer_it_leaves_for(engine: Engine, reference: Engine) -> None:
    """The other way round: a payment that stops carrying a refund's intent sends the refund back to the
    next payment carrying it. The changed payment names only its new intent; the old one is kept by the
    store's departure triggers, so the customer the refund returns to is recomputed too."""
    world = _consio_world(2)
    world.refund("re_1", "in_1", 4_000, "2026-02-01")
    payment = next(r for r in world.rows[InvoicePayment] if r["id"] == "inpay_in_0")
    world.rows[InvoicePayment] = [dict(payment, payment_intent="pi_in_1") if r is payment else r
                                  for r in world.rows[InvoicePayment]]  # fmt: skip
    _, after = _twins(engine, reference, "consio", [
        (_rows(world), "2026-03-01"), ([(InvoicePayment, dict(payment, payment_intent="pi_other"))], "2026-03-01"),
    ])  # fmt: skip
    assert after.customers_recomputed == 2
    clawbacks = sorted((e[3], e[7]) for e in _ledger(engine) if e[4] == "clawback")
    assert clawbacks == [("cust_0", -800), ("cust_0", 800), ("cust_1", -800)]


def test_a_pending_refund_moving_away_wakes_the_customer_it_leaves_for(engine: Engine, reference: Engine) -> None:
    """As above with the refund dated after as-of: nothing is booked when its payment moves, but the
    customer it now lands on must get its recheck time, and books it once as-of reaches the refund."""
    world = _consio_world(2)
    world.refund("re_1", "in_1", 4_000, "2026-02-01")
    payment = next(r for r in world.rows[InvoicePayment] if r["id"] == "inpay_in_0")
    world.rows[InvoicePayment] = [dict(payment, payment_intent="pi_in_1") if r is payment else r
                                  for r in world.rows[InvoicePayment]]  # fmt: skip
    results = _twins(engine, reference, "consio", [
        (_rows(world), "2026-01-20"),
        ([(InvoicePayment, dict(payment, payment_intent="pi_other"))], "2026-01-25"),
        ([], "2026-02-01"),
    ])  # fmt: skip
    assert [r.customers_recomputed for r in results[1:]] == [2, 1]
    assert [(e[3], e[7]) for e in _ledger(engine) if e[4] == "clawback"] == [("cust_1", -800)]


def test_a_credit_note_listing_another_customers_refund(engine: Engine, reference: Engine) -> None:
    """The credit note counts the refunds it lists, wherever they are: when it appears (by data, or by time
    as-of reaching its date), the listed refund's customer is recomputed too."""
    world = _consio_world(2)
    world.refund("re_1", "in_1", 4_000, "2026-02-01")
    note = World()
    note.credit_note("cn_0", "in_0", 3_000, 3_000, "2026-03-15", refunds=["re_1"])
    results = _twins(engine, reference, "consio", [
        (_rows(world), "2026-03-01"), (_rows(note), "2026-03-10"), ([], "2026-03-20"),
    ])  # fmt: skip
    assert [r.customers_recomputed for r in results[1:]] == [2, 2]  # both on arrival, and again once visible
    clawbacks = sorted((e[3], e[7]) for e in _ledger(engine) if e[4] == "clawback")
    assert clawbacks == [("cust_0", -600), ("cust_1", -800), ("cust_1", 800)]


def test_time_alone_makes_a_scheduled_entry_payable(engine: Engine, reference: Engine) -> None:
    """Connectus pays at the end of the 3rd month after the contract starts: nothing arrives, time passes."""
    w = World()
    w.partner("part_a", referrer_relationship="customer")
    w.product("prod_p", unit_cost=100)
    w.price("price_p", "prod_p", 1000)
    for c in range(3):
        w.lead(f"lead_{c}", "a", "2026-01-02", external_key=f"k{c}", email=f"x@c{c}.io")
        w.referral(f"cust_{c}", "part_a", "2026-01-03", customer_key=f"k{c}", provider_key=f"cus_{c}")
        w.subscription(f"sub_{c}", f"cus_{c}", f"2026-0{c + 1}-15", [("price_p", 1)])
    results = _twins(engine, reference, "connectus", [
        (_rows(w), "2026-03-31"), ([], "2026-04-29T23:59:59Z"), ([], "2026-04-30"), ([], "2026-05-30"),
        ([], "2026-05-31"),
    ])  # fmt: skip
    assert [(r.customers_recomputed, r.statuses_changed) for r in results[1:]] == [(0, 0), (1, 1), (0, 0), (1, 1)]
    statuses = [(e[3], e[9], e[13]) for e in _ledger(engine)]
    assert statuses == [
        ("cust_0", "payable", dt.datetime(2026, 4, 30, tzinfo=UTC)),
        ("cust_1", "payable", dt.datetime(2026, 5, 31, tzinfo=UTC)),
        ("cust_2", "scheduled", dt.datetime(2026, 6, 30, tzinfo=UTC)),
    ]


def test_time_alone_takes_an_invoice_past_due(engine: Engine, reference: Engine) -> None:
    """NetSource holds a customer's entries while an invoice is open past its due date: held once as-of is
    *past* the due date (not at it), with no record changing."""
    w = World()
    w.partner("part_a")
    w.product("prod_p")
    w.price("price_p", "prod_p", 1000)
    for c in range(2):
        w.lead(f"lead_{c}", "a", "2026-01-02", external_key=f"k{c}", email=f"x@c{c}.io", company_name=f"C{c}")
        w.referral(f"cust_{c}", "part_a", "2026-01-03", customer_key=f"k{c}", provider_key=f"cus_{c}")
        w.invoice(f"in_{c}", f"cus_{c}", "2026-01-10", paid_at="2026-01-10", lines=[("price_p", 10_000)])
    w.invoice("in_open", "cus_1", "2026-02-01", due_date="2026-03-01", lines=[("price_p", 5_000)])
    results = _twins(engine, reference, "netsource", [
        (_rows(w), "2026-02-15"), ([], "2026-03-01"), ([], "2026-03-01T00:00:01Z"), ([], "2026-03-02"),
    ])  # fmt: skip
    assert [(r.customers_recomputed, r.statuses_changed) for r in results[1:]] == [(0, 0), (1, 1), (0, 0)]
    assert [(e[3], e[9], e[10]) for e in _ledger(engine)] == [
        ("cust_0", "payable", None),
        ("cust_1", "held", "customer_past_due"),
    ]


def test_a_later_as_of_than_the_last_compute_falls_back_to_full(engine: Engine, reference: Engine) -> None:
    world = _consio_world(2)
    _, earlier = _twins(engine, reference, "consio", [(_rows(world), "2026-03-01"), ([], "2026-01-05")])
    assert (earlier.mode, earlier.full_reason) == ("full", "as-of time earlier than the last compute's")


def test_a_changed_price_falls_back_to_full(engine: Engine, reference: Engine) -> None:
    world = _consio_world(2)
    price = dict(world.rows[Price][0], type="one_time")
    _, after = _twins(engine, reference, "consio", [(_rows(world), "2026-03-01"), ([(Price, price)], "2026-03-01")])
    assert (after.mode, after.full_reason, after.customers_recomputed) == ("full", "products or prices changed", 2)


def test_upsert_stamps_only_real_changes(engine: Engine) -> None:
    factory = session_factory(engine)
    row = {"id": "in_1", "customer_id": "cus_1", "currency": "usd", "amount_paid": 100, "raw": {"a": [1, 2]}}

    def stamp() -> int | None:
        with factory() as s:
            return s.scalar(select(Invoice.changed_seq).where(Invoice.id == "in_1"))

    def tick(to: int) -> None:
        with transaction(factory) as s:
            s.execute(update(ChangeClock).values(seq=to))

    with transaction(factory) as s:
        upsert_rows(s, Invoice, [row])
    assert stamp() == 1
    tick(2)
    with transaction(factory) as s:
        upsert_rows(s, Invoice, [dict(row, raw={"a": [1, 2]})])  # the same content: not written
    assert stamp() == 1
    with transaction(factory) as s:
        upsert_rows(s, Invoice, [dict(row, raw={"a": [1, 3]})])  # only the payload differs
    assert stamp() == 2
    tick(3)
    with transaction(factory) as s:
        upsert_rows(s, Invoice, [dict(row, raw={"a": [1, 3]}, customer_id=None)])  # a value to NULL
    assert stamp() == 3
    with factory() as s:
        inv = s.get(Invoice, "in_1")
        assert inv is not None and inv.customer_id is None and inv.raw == {"a": [1, 3]}


def test_time_alone_brings_a_deals_first_payment(engine: Engine, reference: Engine) -> None:
    """Tech-consultant deals are payable after the customer's first payment: an invoice paid after the
    last as-of makes the deal's entries payable once as-of reaches the payment, with no record changing."""
    w = World()
    w.partner("part_a")
    for c in range(2):
        w.deal(f"deal_{c}", "a", "2026-01-05", amount=80_000, close_date="2026-01-20", external_key=f"cus_{c}")
        w.invoice(f"in_{c}", f"cus_{c}", "2026-01-25", paid_at=f"2026-0{2 + c}-01", lines=[(None, 1_000)])
    results = _twins(engine, reference, "tech-consultant", [
        (_rows(w), "2026-01-21"), ([], "2026-02-01"), ([], "2026-02-15"), ([], "2026-03-01"),
    ])  # fmt: skip
    # a deal is recomputed with all of its partner's deals (the tier counts them)
    assert [(r.customers_recomputed, r.statuses_changed) for r in results[1:]] == [(2, 1), (0, 0), (2, 1)]
    assert [(e[3], e[4], e[9], e[13]) for e in _ledger(engine)] == [
        ("deal_0", "commission", "payable", dt.datetime(2026, 2, 1, tzinfo=UTC)),
        ("deal_1", "commission", "payable", dt.datetime(2026, 3, 1, tzinfo=UTC)),
    ]


def test_a_deleted_change_clock_falls_back_to_full(engine: Engine, reference: Engine) -> None:
    """Rows written while the clock row is missing are stamped its first tick: no mark can vouch for them."""
    world = _consio_world(2)
    refund = World()
    refund.refund("re_1", "in_1", 4_000, "2026-02-01")
    _twins(engine, reference, "consio", [(_rows(world), "2026-03-01")])
    with transaction(session_factory(engine)) as s:
        s.execute(delete(ChangeClock))
    (after,) = _twins(engine, reference, "consio", [(_rows(refund), "2026-03-02")], first=1)
    assert (after.mode, after.full_reason, after.entries_appended) == ("full", "the change clock was reset", 1)
    with session_factory(engine)() as s:
        assert s.execute(select(ChangeClock.id, ChangeClock.seq)).all() == [(1, 2)]


def test_connectus_cancelled_before_payable_is_void_and_final_after(engine: Engine, reference: Engine) -> None:
    """programs.md "Changes after the fact", Connectus: a quantity edit before the payable date is
    recomputed, a cancellation before it voids the reward (reversed), nothing changes it after it."""
    w = World()
    w.partner("part_a", referrer_relationship="customer")
    w.product("prod_p", unit_cost=100)
    w.price("price_p", "prod_p", 1000)
    for c in range(2):
        w.lead(f"lead_{c}", "a", "2026-01-02", external_key=f"k{c}", email=f"x@c{c}.io")
        w.referral(f"cust_{c}", "part_a", "2026-01-03", customer_key=f"k{c}", provider_key=f"cus_{c}")
        w.subscription(f"sub_{c}", f"cus_{c}", "2026-01-15", [("price_p", 1)])
    subs = {r["id"]: r for r in w.rows[Subscription]}
    item = next(r for r in w.rows[SubscriptionItem] if r["subscription_id"] == "sub_0")
    results = _twins(engine, reference, "connectus", [
        (_rows(w), "2026-02-01"),
        ([(SubscriptionItem, dict(item, quantity=2)),
          (Subscription, dict(subs["sub_1"], status="canceled", canceled_at=t("2026-02-10")))], "2026-03-01"),
        ([], "2026-04-30"),
        ([(SubscriptionItem, dict(item, quantity=5)),
          (Subscription, dict(subs["sub_0"], status="canceled", canceled_at=t("2026-05-01")))], "2026-05-15"),
    ])  # fmt: skip
    assert [r.entries_appended for r in results] == [2, 2, 0, 0]
    assert [(e[3], e[4], e[7], e[9]) for e in _ledger(engine)] == [
        ("cust_0", "commission", 360, "payable"),  # 12 x 1000 x 3 %
        ("cust_0", "commission", 360, "payable"),  # quantity 2 before the payable date
        ("cust_1", "commission", 360, "reversed"),
        ("cust_1", "clawback", -360, "reversed"),
    ]


def test_requalified_take_back_and_its_finding(engine: Engine, reference: Engine) -> None:
    """A booked submission made a duplicate by an earlier one that surfaces late: its entries are taken
    back (`requalified:duplicate_lead`), the finding is raised by that run only, in both passes alike."""
    w = _consio_world(2)
    w.partner("part_b")
    late = World()
    late.lead("lead_early", "b", "2026-01-01", external_key="k0", email="y@c0.io")
    _twins(engine, reference, "consio", [(_rows(w), "2026-03-01"), (_rows(late), "2026-03-02"), ([], "2026-03-03")])
    taken = [(e[2], e[4], e[7], e[9], e[10]) for e in _ledger(engine) if e[3] == "cust_0"]
    assert taken == [  # not pushed yet (compute only): the pair is reversed
        ("part_a", "commission", 2000, "reversed", "offset"),
        ("part_a", "clawback", -2000, "reversed", "offset"),
        ("part_b", "commission", 2000, "payable", None),
    ]
    assert [e[15] for e in _ledger(engine) if e[2] == "part_a" and e[4] == "clawback"] == [
        "take-back of consio|part_a|cust_0|commission|in_0#0: requalified:duplicate_lead: lead_0 is now rejected "
        "(duplicate_lead); lead_early earns instead: taken back; booked 2,000, now 0, difference −2,000"
    ]
    assert [f[2] for f in _findings(engine, "run-1") if f[1] == "lead_0"] == ["requalified"]
    assert [f for f in _findings(engine, "run-2") if f[2] == "requalified"] == []


def test_group_move_keeps_terms_of_customers_booked_before(engine: Engine, reference: Engine) -> None:
    """Consio records the partner's group at a customer's first booking: after a move from elite (24 months)
    to master (36), the customer booked before still ends at 24 months, one booked after runs 36."""
    w = _consio_world(1)
    partner = dict(next(r for r in w.rows[Partner] if r["key"] == "part_a"), group_slug="elite")
    w.rows[Partner] = [partner]
    moved = World()
    moved.rows[Price] = w.rows[Price]
    moved.lead("lead_9", "a", "2026-02-02", external_key="k9", email="x@c9.io")
    moved.referral("cust_9", "part_a", "2026-02-03", customer_key="k9", provider_key="cus_9")
    moved.invoice("in_9", "cus_9", "2026-02-10", paid_at="2026-02-10", lines=[("price_p", 10_000)])
    late = World()
    late.rows[Price] = w.rows[Price]
    for c, day in ((0, "2028-02-01"), (9, "2028-03-01")):  # 25 months after each first payment
        late.invoice(f"in_{c}_late", f"cus_{c}", day, paid_at=day, lines=[("price_p", 10_000)])
    _twins(engine, reference, "consio", [
        (_rows(w), "2026-01-20"),
        ([(Partner, dict(partner, group_slug="master")), *_rows(moved)], "2026-03-01"),
        (_rows(late), "2028-04-01"),
    ])  # fmt: skip
    assert [(e[3], e[0].rsplit("|", 1)[1]) for e in _ledger(engine)] == [
        ("cust_0", "in_0#0"),
        ("cust_9", "in_9#0"),
        ("cust_9", "in_9_late#0"),
    ]


def test_a_deal_moved_out_of_its_window_is_taken_back(engine: Engine, reference: Engine) -> None:
    """A won deal whose close date is edited past its 60-day window is rejected: its entries are taken
    back (`requalified:contract_window_expired`), the finding is the same in both passes, and the
    partner's other deal moves down an ordinal."""
    w = World()
    w.partner("part_a")
    for c, close in ((0, "2026-02-01"), (1, "2026-02-10"), (2, "2026-02-20")):
        w.deal(f"deal_{c}", "a", "2026-01-05", amount=80_000, close_date=close, external_key=f"cus_{c}")
    moved = dict(next(r for r in w.rows[Deal] if r["key"] == "deal_0"), close_date=t("2026-03-15"))
    _twins(engine, reference, "tech-consultant", [(_rows(w), "2026-03-01"), ([(Deal, moved)], "2026-03-20")])
    assert [(e[3], e[4], e[7], e[9], e[10]) for e in _ledger(engine)] == [
        ("deal_0", "commission", 2400, "reversed", "offset"),
        ("deal_0", "clawback", -2400, "reversed", "offset"),
        ("deal_1", "commission", 2400, "scheduled", "awaiting_first_payment"),
        ("deal_2", "commission", 3200, "scheduled", "awaiting_first_payment"),  # 3rd: silver, 4 %
        ("deal_2", "clawback", -800, "scheduled", "awaiting_first_payment"),  # now 2nd: bronze, 3 %
    ]
    assert [f[1:3] for f in _findings(engine, "run-1") if f[2] == "requalified"] == [("deal_0", "requalified")]
