"""A compute pass qualifies in the database (`connector.ledger.passverdicts`) exactly as `qualify` does in memory.

The traps: keys whose database order is not Python's (case, accents: PostgreSQL's default collation
sorts them otherwise), equal submission times, a missing one (last), two PartnerStack customers with
the same customer key or billing customer (the last read is the one a lead or deal finds), identifiers
shared across kinds of submission, empty keys, and an existing customer (its first paid time).

A database whose default collation is C.UTF-8 (this machine's) orders the keys as Python does anyway;
on one created `LOCALE_PROVIDER icu ICU_LOCALE 'en-US'` both tests here fail if the pass's ORDER BYs
lose their `COLLATE "C"` (checked by hand when they were written).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text

from connector.ledger.compute import _qualify_all
from connector.ledger.passverdicts import PassTables
from connector.rules.qualification import Verdict, build_submissions, qualify
from connector.rules.reads import load_global
from connector.store.db import session_factory, transaction
from connector.store.models import Decision
from tests.rules.builders import World, context, program


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """`_qualify_all` freezes the heap it leaves (`compute._heap_frozen` undoes that after a pass)."""
    yield
    gc.unfreeze()


def _world() -> World:
    w = World()
    w.partner("part_ada", email="ada@lovelace.com", company_name="Lovelace Advisory LLC")
    w.partner("part_bob", email="bob@meyer.de", company_name="Meyer GmbH")
    w.customer("cus_X")
    w.invoice("in_1", "cus_X", "2026-01-02", paid_at="2026-01-03", amount_paid=1000)
    same = "2026-01-05T10:00:00Z"
    for key in ("lead_B", "lead_a", "Lead_c", "lead_é", "lead_z", "lead_É", "lead_b"):
        w.lead(key, "ada", same, company_name="Acme Robotics Inc", email=f"{key}@gmail.com")
    w.lead("lead_none", "bob", same, company_name="Zeta", email="z@zeta.io")["created_at"] = None
    w.lead("lead_k1", "bob", "2026-01-04", external_key="k1", company_name="One", email="x@one.io")
    w.lead("lead_k2", "ada", "2026-01-06", external_key="k2", company_name="Two", email="y@zeta.io")
    w.lead("lead_empty", "ada", "2026-01-06", external_key="", company_name="", email="")
    w.referral("cust_1", "part_ada", "2026-01-06", customer_key="k1", provider_key="cus_X", name="Two")
    w.referral("cust_2", "part_bob", "2026-01-07", customer_key="k1", provider_key="cus_Y", test=True)
    w.referral("cust_3", "part_bob", "2026-01-01", customer_key="k3", provider_key="cus_X", email="q@one.io")
    w.referral("cust_4", "part_ada", "2026-01-05T10:00:00Z", provider_key="", name="acme robotics")
    for key, external in (
        ("deal_B", "cus_X"),
        ("deal_b", "cus_X"),
        ("deal_a", "cus_Y"),
        ("deal_é", None),
        ("deal_c", ""),
    ):
        w.deal(key, "ada", "2026-01-05", amount=100_000, external_key=external, close_date="2026-02-01")
    return w


def _rows(verdicts: list[Verdict]) -> list[tuple[object, ...]]:
    return [
        (v.submission.key, v.submission.type, v.submission.submitted_at,
         v.submission.partner.key if v.submission.partner else None, v.submission.customer_key,
         v.submission.referral_key, v.submission.billing_customer_id,
         v.submission.deal.key if v.submission.deal else None, v.decision, v.reason, v.earlier)
        for v in verdicts
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["consio", "tech-consultant"])
def test_the_pass_qualifies_as_qualify_does(engine: Engine, name: str) -> None:
    _world().save(engine)
    prog = program(name)
    ctx = context(engine, "2026-06-01")
    with transaction(session_factory(engine)) as session:
        facts = load_global(session, ctx.as_of)
        expected = _rows(qualify(build_submissions(facts, prog), facts, prog))
        with PassTables.open(session) as tables:
            q = _qualify_all(session, ctx, prog, tables, incremental=False)
            got = _rows(list(tables.verdicts(q.facts)))
            assert tables.batches == 0
        stored = set(session.scalars(select(Decision.submission_key).where(Decision.program == prog.name)))
    assert got == expected
    assert stored == {row[0] for row in expected}
    if "duplicate_lead" in prog.qualification.rules:  # the world does exercise duplicates
        assert any(row[-2] == "duplicate_lead" and row[-1] for row in expected)
    assert dict(q.decisions) == {d: sum(1 for row in expected if row[-3] == d) for d in q.decisions}


def test_the_tables_do_not_outlive_the_pass(engine: Engine) -> None:
    _world().save(engine)
    ctx = context(engine, "2026-06-01")
    postgres = engine.dialect.name == "postgresql"
    temporary = text(
        "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'tmp_pass%'"
        if postgres
        else "SELECT name FROM sqlite_temp_master WHERE type = 'table' AND name LIKE 'tmp_pass%'"
    )
    with transaction(session_factory(engine)) as session:
        with PassTables.open(session) as tables:
            _qualify_all(session, ctx, program("consio"), tables, incremental=False)
            assert len(session.scalars(temporary).all()) >= 8
        assert session.scalars(temporary).all() == []
        with PassTables.open(session) as tables:  # a second pass on the same connection starts empty
            assert list(tables.verdicts(load_global(session, ctx.as_of))) == []
