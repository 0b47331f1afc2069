"""On SQLite, the push marks a batch `sending` by its keys, not by walking every payable entry.

Why: the connector keeps no planner statistics in a SQLite store, and SQLite then guesses that
`status = 'payable'` selects about ten rows. The batch's mark (`UPDATE … WHERE entry_key IN (500
keys) AND status = 'payable' …`) was planned on `ix_ledger_entries_status`: each batch walked the
whole remaining outbox, 260 s of the 906 s L push (`bench/run L --db sqlite --profile-dir`). The
status is now only re-checked (`connector.store.keyed.not_indexed`).

The plans asserted are those of the statements the push ran, captured as they went to the driver,
with their own parameters.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, text, update
from sqlalchemy.orm import Session

import connector.push.outbox as outbox
from connector.store.models import LedgerEntry
from tests.conftest import on_postgres
from tests.rules.builders import context, program
from tests.run.test_approval import Platform
from tests.run.test_push_statistics import _book

ENTRIES = 1_200
sqlite_only = pytest.mark.skipif(on_postgres(), reason="SQLite's planner without statistics")


def _plan(engine: Engine, sql: str, params: Any) -> str:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    return "\n".join(str(row[-1]) for row in rows)


def _marks_sent(engine: Engine) -> list[tuple[str, Any]]:
    """The `sending` marks a push of ENTRIES payable entries sent to the driver, with their parameters."""
    _book(engine, ENTRIES, "payable")
    marks: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("UPDATE ledger_entries SET push_state=?, push_attempts="):
            marks.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        result = outbox.push(context(engine, "2026-04-01"), program("consio"), destination=Platform())
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert result.pushed == ENTRIES
    return marks


@sqlite_only
def test_each_batch_is_marked_through_the_primary_key(engine: Engine) -> None:
    marks = _marks_sent(engine)
    assert len(marks) == -(-ENTRIES // outbox.BATCH_SIZE)  # one per batch: 500, 500, 200
    for sql, params in marks:
        plan = _plan(engine, sql, params)
        assert "sqlite_autoindex_ledger_entries_1 (entry_key=?)" in plan, plan
        assert "ix_ledger_entries_status" not in plan, plan
    with Session(engine) as session:
        attempts = session.execute(text("SELECT DISTINCT status, push_state, push_attempts FROM ledger_entries")).all()
    assert attempts == [("pushed", "sent", 1)]


@sqlite_only
def test_the_same_mark_with_a_searchable_status_walks_every_payable_entry(engine: Engine) -> None:
    """The guess the test above guards against: the control that it can fail."""
    _book(engine, ENTRIES, "payable")
    keys = [f"g{n:06d}|in_{n:06d}#0" for n in range(outbox.BATCH_SIZE)]
    stmt = (update(LedgerEntry)
            .where(LedgerEntry.entry_key.in_(keys), LedgerEntry.status == "payable",
                   LedgerEntry.push_state.is_distinct_from("refused"))
            .values(push_state="sending"))  # fmt: skip
    compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    assert "USING INDEX ix_ledger_entries_status (status=?)" in _plan(engine, str(compiled), params)
