"""The pull's per-page statements keep using their indexes while a backfill grows the tables from empty.

Why: at size M a backfill spent minutes in sequential scans of the invoice-lines table, one per
page, because nothing analyzed the tables it had just filled (`connector.store.planner`). The
plans are taken on PostgreSQL with EXPLAIN, at an M-like size, from the very statements the
pull's writer sent for its last page.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from bench.pg_plans import PAGE, PageWriter, outline
from connector.store.models import Invoice, InvoiceLine
from connector.store.planner import FIRST_ANALYZE_ROWS
from tests.conftest import on_postgres

LINES = 100_000  # M has 175,655 invoice lines; the test invoices have 1.5 lines each


@pytest.mark.postgres
@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's planner (set CONNECTOR_TEST_DATABASE_URL)")
def test_a_page_is_written_through_indexes_after_a_backfill_grew_the_tables(engine: Engine) -> None:
    pages = PageWriter(engine)
    invoices = LINES * 2 // 3 + PAGE
    pages.write(invoices - PAGE, page=10 * PAGE)  # ten pages a transaction, as a busy pull's writer batches them
    pages.write(PAGE, record_last=True)  # then one page as the pull writes it

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InvoiceLine)).scalar_one() >= LINES
        assert conn.execute(select(func.count()).select_from(Invoice)).scalar_one() == invoices
    plans = dict(pages.plans())
    kinds = sorted(statement.split()[0] + " " + statement.split()[2] for statement in plans)
    assert kinds == ["DELETE st_invoice_lines", "INSERT st_invoice_lines", "INSERT st_invoices"]
    for statement, plan in plans.items():
        table = statement.split()[2]
        assert f"Seq Scan on {table}" not in plan, outline(plan)
        if statement.startswith("DELETE"):
            assert "Index Scan using ix_st_invoice_lines_invoice_id" in plan or (
                "Bitmap Index Scan on ix_st_invoice_lines_invoice_id" in plan
            ), outline(plan)
        else:
            assert f"Conflict Arbiter Indexes: pk_{table}" in plan, plan


def test_a_growing_table_is_analyzed_as_it_doubles_and_only_on_postgresql(engine: Engine) -> None:
    analyzed: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("ANALYZE"):
            analyzed.append(statement.split()[1])

    event.listen(engine, "before_cursor_execute", record)
    PageWriter(engine).write(4_000)  # 4,000 invoices, 6,000 lines, in pages of 100

    if not on_postgres():
        assert analyzed == []
        return
    # first at FIRST_ANALYZE_ROWS rows written, then each time as many again as the last ANALYZE counted
    assert FIRST_ANALYZE_ROWS == 1_000
    assert analyzed.count("st_invoices") == 3  # at 1,000, 2,000 and 4,000 invoices
    assert analyzed.count("st_invoice_lines") == 3  # at 1,050, 2,100 and 4,200 lines
    assert set(analyzed) == {"st_invoices", "st_invoice_lines"}  # the cursor table is not written here
