"""The compute's reads of the ledger keep using their indexes once a backfill has booked it.

Why: a backfill's compute books ~100,000 entries at M into an empty `ledger_entries`. Nothing
analyzed it, so PostgreSQL planned each batch's `program = … AND customer_key IN (…)` from an
empty table's statistics: the index on (program, customer_key) searched by program alone and the
keys applied as a filter, a scan of the program's every entry per batch (1–2 s each at M; the M
recompute took 35.7 s on PostgreSQL against 8.6 s on SQLite). Booking entries now reports their
count to `connector.store.planner`, which analyzes the table as it doubles.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from connector.ledger.store import entries_of_customers, write
from connector.ledger.terms import recorded
from connector.store.models import CustomerTerms, LedgerEntry
from tests.conftest import on_postgres
from tests.report.builders import entry

ENTRIES = 20_000
CUSTOMERS = 2_000
TERMS = 20_000  # customer_terms rows: enough that reading 100 of them by a scan costs more than by an index
BOOKED_PER_TRANSACTION = 1_000  # as compute books a batch of customers
_INDEXED = "Index Cond: (((program)::text = 'consio'::text) AND ((customer_key)::text = ANY"


def _book(engine: Engine) -> None:
    for start in range(0, ENTRIES, BOOKED_PER_TRANSACTION):
        appended = [
            entry(f"g{n:06d}|in_{n:06d}", customer=f"cust_{n % CUSTOMERS:05d}", basis=10_000, amount=2_000,
                  status="payable", event_at="2026-05-01T00:00:00Z")
            for n in range(start, start + BOOKED_PER_TRANSACTION)
        ]  # fmt: skip
        with Session(engine) as session, session.begin():
            write(session, appended, [], program="consio")


def _plan_of_a_batch_read(engine: Engine) -> str:
    """EXPLAIN of the statement `entries_of_customers` reads a compute batch's 100 customers with."""
    keys = [f"cust_{n:05d}" for n in range(0, CUSTOMERS, CUSTOMERS // 100)]
    with Session(engine) as session:
        ledger = entries_of_customers(session, "consio", keys)
        stmt = select(LedgerEntry.group_key, LedgerEntry.amount_minor).where(ledger.where)
        sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        return "\n".join(session.execute(text("EXPLAIN " + sql)).scalars())


postgres_only = pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's planner (set CONNECTOR_TEST_DATABASE_URL)")


@pytest.mark.postgres
@postgres_only
def test_a_batch_of_customers_is_read_through_both_index_columns_after_the_ledger_was_booked(engine: Engine) -> None:
    _book(engine)
    plan = _plan_of_a_batch_read(engine)
    assert _INDEXED in plan, plan
    assert "Seq Scan on ledger_entries" not in plan, plan


@pytest.mark.postgres
@postgres_only
def test_without_the_statistics_the_keys_were_only_a_filter(engine: Engine) -> None:
    """The same booking with the planner upkeep switched off gives the plan the M recompute had:
    the test above can fail."""
    with mock.patch("connector.ledger.store.note_rows_written", lambda *_: None), \
            mock.patch("connector.ledger.history.note_rows_written", lambda *_: None):
        _book(engine)
    plan = _plan_of_a_batch_read(engine)
    assert _INDEXED not in plan, plan


@pytest.mark.postgres
@postgres_only
def test_a_batch_of_customers_terms_is_read_through_the_customer_index(engine: Engine) -> None:
    """`terms.recorded` reads by program and customer; the primary key leads with the partnership, so
    without `ix_customer_terms_program_customer` each batch scanned the program's every row (90 ms a
    batch at M once psycopg prepared the statement)."""
    rows = [{"program": "consio", "partnership_key": f"part_{n % 50:03d}", "customer_key": f"cust_{n:05d}",
             "group_slug": "standard", "run_id": None, "recorded_at": dt.datetime(2026, 5, 1, tzinfo=dt.UTC)}
            for n in range(TERMS)]  # fmt: skip
    with Session(engine) as session, session.begin():
        session.execute(insert(CustomerTerms), rows)
        session.execute(text("ANALYZE customer_terms"))
    keys = [f"cust_{n:05d}" for n in range(0, TERMS, TERMS // 100)]
    with Session(engine) as session:
        assert len(recorded(session, "consio", keys)) == 100
        stmt = select(CustomerTerms.customer_key).where(CustomerTerms.program == "consio",
                                                        CustomerTerms.customer_key.in_(keys))  # fmt: skip
        sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(session.execute(text("EXPLAIN " + sql)).scalars())
    assert "ix_customer_terms_program_customer" in plan, plan
