"""Keep PostgreSQL's planner statistics current while the connector's writes grow a table.

Why: a table filled from empty inside one backfill keeps the statistics of an empty table
until something runs ANALYZE, and autovacuum either is off or lags a bulk load. Without
statistics PostgreSQL guesses that each value of `invoice_id` matches 1/200 of the table, so
a page's `DELETE … WHERE invoice_id IN (100 keys)` looks like half the table and is planned
as a sequential scan: a backfill at size M spent minutes scanning 175k invoice lines once
per page although their index exists. (Binding the keys as one array, `= ANY(:keys)`, is
planned from the same guess, so no statement form avoids this; statistics do.)

The ledger grows the same way (a backfill's compute books ~100,000 entries at M into an empty
`ledger_entries`, then its push reads them back by program and customer): with an empty
table's statistics, each compute batch's `program = … AND customer_key IN (…)` was planned as
a scan of the program's every entry with the keys as a filter (1–2 s a batch at M on
PostgreSQL, the recompute 4× SQLite's time).

So every write through `connector.store.writes.upsert_rows`, and every insert of ledger entries
and of their status history (`connector.ledger.store`, `connector.ledger.history`), reports its
row count here, and
a table is analyzed, inside the writer's own transaction (ANALYZE counts that transaction's
uncommitted rows), once it has received at least `FIRST_ANALYZE_ROWS` rows and then each time
the rows written since its last ANALYZE reach its analyzed size (it may have doubled). A
table's size is read from `pg_class.reltuples` (never a COUNT): once when the process first
writes it, then after each ANALYZE. The count of rows written is an upper bound (an unchanged
re-read writes nothing), which can only make an ANALYZE come early. A table thus costs about
log2(final / first) ANALYZEs while it grows, each reading at most a fixed sample of it.

A table's rows can also change in place: a push moves every entry it sends from `payable` to
`pushed`, a read-back gives each its platform status. Nothing grows, so the rule above never
fires, and the statistics go on describing the ledger as it was booked: after the L backfill
three quarters of `ledger_entries` were `payable` to the planner and none to the table, so
the next sync's outbox reads (count, pages, the mirrored search) scanned every entry, 7 s of a
no-change sync. Such writers report with `note_rows_changed`, and the stage that made them
calls `settle_statistics` when it is done: one ANALYZE if at least `FIRST_ANALYZE_ROWS` rows
were written or changed since the last (a sync that changed nothing pays nothing).

SQLite needs none of this: without statistics its planner prefers an index over a scan for an
equality or IN on an indexed column, which is what the pull's statements are.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass

from sqlalchemy import Engine, FromClause, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["FIRST_ANALYZE_ROWS", "PlannerStatistics", "note_rows_changed", "note_rows_written", "settle_statistics"]

log = logging.getLogger(__name__)

FIRST_ANALYZE_ROWS = 1_000  # below this a sequential scan is as cheap as an index's


@dataclass
class _Growth:
    analyzed: float  # not money: the table's rows at its last ANALYZE (0: never analyzed, or empty)
    written: int = 0  # rows written since then (an upper bound)
    changed: int = 0  # rows updated in place since then (an upper bound)

    def due(self) -> bool:
        return self.written >= max(FIRST_ANALYZE_ROWS, self.analyzed)


class PlannerStatistics:
    """Rows written per table of one database since its last ANALYZE; analyzes a table that grew."""

    def __init__(self) -> None:
        self._tables: dict[str, _Growth] = {}
        self._lock = threading.Lock()  # a scheduler may write from more than one thread

    def note(self, session: Session, table: Table, rows: int) -> None:
        """`rows` were just written into `table` in `session`'s transaction; ANALYZE it if it grew enough."""
        name, growth = self._growth(session, table)
        with self._lock:
            growth.written += rows
            if not growth.due():
                return
            growth.written = growth.changed = 0  # claimed: another thread's next write does not analyze it too
        self._analyze(session, name, growth)

    def note_changed(self, session: Session, table: Table, rows: int) -> None:
        """`rows` of `table` were just updated in place; counted until `settle`."""
        _, growth = self._growth(session, table)
        with self._lock:
            growth.changed += rows

    def settle(self, session: Session, table: Table) -> None:
        """ANALYZE `table` if `FIRST_ANALYZE_ROWS` rows or more were written or changed since its last."""
        name, growth = self._growth(session, table)
        with self._lock:
            if growth.written + growth.changed < FIRST_ANALYZE_ROWS:
                return
            growth.written = growth.changed = 0
        self._analyze(session, name, growth)

    def _growth(self, session: Session, table: Table) -> tuple[str, _Growth]:
        name = session.get_bind().dialect.identifier_preparer.format_table(table)
        with self._lock:
            growth = self._tables.get(name)
        if growth is None:
            growth = _Growth(analyzed=_analyzed_rows(session, name))
        with self._lock:
            return name, self._tables.setdefault(name, growth)

    def _analyze(self, session: Session, name: str, growth: _Growth) -> None:
        _analyze(session, name)
        analyzed = _analyzed_rows(session, name)
        with self._lock:
            growth.analyzed = analyzed


# One tracker per engine (each engine is one database and search path), gone with its engine.
_TRACKERS: weakref.WeakKeyDictionary[Engine, PlannerStatistics] = weakref.WeakKeyDictionary()
_TRACKERS_LOCK = threading.Lock()


def note_rows_written(session: Session, table: FromClause, rows: int) -> None:
    """Tell the planner-statistics tracker of `session`'s database that `rows` went into `table`
    (a model's `__table__`, typed by SQLAlchemy as any FromClause).

    PostgreSQL only (elsewhere a no-op); cheap enough to call after every page.
    """
    tracked = _tracker(session, table)
    if tracked is not None and rows > 0:
        tracked[0].note(session, tracked[1], rows)


def note_rows_changed(session: Session, table: FromClause, rows: int) -> None:
    """`rows` of `table` were updated in place (a status moved): counted towards the next
    `settle_statistics`, never an ANALYZE by itself. PostgreSQL only, like `note_rows_written`."""
    tracked = _tracker(session, table)
    if tracked is not None and rows > 0:
        tracked[0].note_changed(session, tracked[1], rows)


def settle_statistics(session: Session, table: FromClause) -> None:
    """A stage is done writing `table`: ANALYZE it if at least `FIRST_ANALYZE_ROWS` rows were written
    or changed in place since its last ANALYZE (by this process). PostgreSQL only."""
    tracked = _tracker(session, table)
    if tracked is not None:
        tracked[0].settle(session, tracked[1])


def _tracker(session: Session, table: FromClause) -> tuple[PlannerStatistics, Table] | None:
    """The tracker of `session`'s database and the table as a Table (None off PostgreSQL)."""
    assert isinstance(table, Table), table
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    engine = bind.engine
    tracker = _TRACKERS.get(engine)
    if tracker is None:
        with _TRACKERS_LOCK:
            tracker = _TRACKERS.setdefault(engine, PlannerStatistics())
    return tracker, table


def _analyzed_rows(session: Session, name: str) -> float:  # not money: a row estimate
    """The table's row count as the planner knows it: `reltuples` (-1 before any ANALYZE on PostgreSQL 14+)."""
    value = session.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": name}
    ).scalar()
    return max(float(value), 0.0) if value is not None else 0.0  # not money


def _analyze(session: Session, name: str) -> None:
    """ANALYZE in a savepoint: statistics are worth a retry at the next doubling, never a failed page."""
    try:
        with session.begin_nested():
            session.execute(text(f"ANALYZE {name}"))
    except DBAPIError as exc:
        log.warning("could not ANALYZE %s (the planner keeps its old statistics): %s", name, exc)
