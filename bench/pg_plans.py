"""PostgreSQL plans of the pull's per-page statements while the invoice tables grow from empty.

Why: at size M a backfill's pull spent minutes in `DELETE FROM st_invoice_lines WHERE invoice_id
IN (…)`, a sequential scan of the whole lines table per page, because nothing analyzed the tables
while one backfill filled them (see `connector.store.planner`). This writes synthetic Stripe
invoices (one or two lines each, as at M) page by page through the pull's own writer into a fresh
schema, once with the planner-statistics upkeep switched off and once as shipped, and prints each
run's seconds, its sequential scans of the lines table, the plan of its last page's DELETE, and the
ratio of the two times:

    python -m bench.pg_plans --invoices 100000        # CONNECTOR_TEST_DATABASE_URL or --url
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from sqlalchemy import Engine, create_engine, event, text

from connector.config import DatabaseSettings, Settings
from connector.context import RunContext
from connector.mapping import load_mappings
from connector.pull import StreamStats
from connector.pull.pages import RecordWriter
from connector.store.db import make_engine, session_factory, upgrade

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAGE = 100  # Stripe's page size: the pull writes 100 invoices (and their lines) per transaction
STREAM = "stripe.invoices"


def invoice(i: int) -> dict[str, Any]:
    """A Stripe invoice with one or two lines (M has 1.46 lines per invoice)."""
    lines = [{"id": f"il_{i:08d}_{j}", "amount": 500, "quantity": 1, "description": "seat"} for j in range(1 + i % 2)]
    return {
        "id": f"in_{i:08d}", "object": "invoice", "customer": f"cus_{i % 10_000:05d}", "currency": "usd",
        "status": "paid", "created": 1_700_000_000 + i, "amount_due": 1000, "amount_paid": 1000,
        "amount_remaining": 0, "subtotal": 1000, "total": 1000,
        "lines": {"object": "list", "data": lines},
    }  # fmt: skip


@contextmanager
def fresh_schema(base_url: str) -> Iterator[Engine]:
    """An engine on a new, migrated schema of `base_url`'s database, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(base_url, schema=schema)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class PageWriter:
    """Writes invoice pages the way the pull does: one transaction per page, through `RecordWriter`."""

    engine: Engine
    written: int = 0
    recording: bool = False
    statements: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        settings = Settings(database=DatabaseSettings(url=self.engine.url.render_as_string(hide_password=False)))
        self.ctx = RunContext(
            settings=settings, engine=self.engine, sessions=session_factory(self.engine),
            run_id=str(uuid.uuid4()), kind="backfill", as_of=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        self.writer = RecordWriter(self.ctx, load_mappings(settings, ("stripe",)))
        self.stats = StreamStats()
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.recording and statement.lstrip().upper().startswith(("DELETE", "INSERT")):
            self.statements.append((statement, parameters))

    def write(self, invoices: int, *, page: int = PAGE, record_last: bool = False) -> None:
        """Write the next `invoices` invoices in pages; keep the last page's statements if asked.

        A `page` of several hundred stands for pages the pull's writer batched into one transaction.
        """
        end = self.written + invoices
        for start in range(self.written, end, page):
            self.recording = record_last and start + page >= end
            if self.recording:
                self.statements.clear()
            payloads = [invoice(i) for i in range(start, min(start + page, end))]
            with self.ctx.sessions() as session, session.begin():
                self.writer.write(session, STREAM, payloads, self.stats)
        self.recording = False
        self.written = end

    def plans(self) -> list[tuple[str, str]]:
        """(statement, EXPLAIN output) of each recorded statement, planned now, in a rolled-back transaction."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            out = [(s, "\n".join(r[0] for r in _explain(cur, s, p))) for s, p in self.statements]
            raw.rollback()
            return out
        finally:
            raw.close()

    def seq_scans(self, table: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                text("SELECT seq_scan FROM pg_stat_user_tables WHERE relid = to_regclass(:t)"), {"t": table}
            ).scalar()
        return int(value or 0)


def outline(plan: str) -> str:
    """A plan's nodes on one line, without their long key lists."""
    nodes = [line.strip() for line in plan.splitlines() if "->" in line or not line.startswith(" ")]
    return " | ".join(node[:100] for node in nodes)


def _explain(cur: Any, statement: str, parameters: Any) -> list[Any]:
    if isinstance(parameters, list):  # an upsert's many rows: each row's statement plans alike
        parameters = parameters[0]
    cur.execute("EXPLAIN " + statement, parameters)
    return list(cur.fetchall())


def run(base_url: str, invoices: int, *, upkeep: bool) -> tuple[float, int, str]:
    """Seconds to write `invoices` in pages, sequential scans of the lines table, the last DELETE's plan."""
    with fresh_schema(base_url) as engine:
        pages = PageWriter(engine)
        switched_off = mock.patch("connector.store.writes.note_rows_written", lambda *_: None)
        with switched_off if not upkeep else nullcontext():
            started = time.perf_counter()
            pages.write(invoices, record_last=True)
            seconds = time.perf_counter() - started
            time.sleep(0.6)  # cumulative statistics reach pg_stat_* within a second of the commit
            scans = pages.seq_scans("st_invoice_lines")
            delete = next(plan for stmt, plan in pages.plans() if stmt.lstrip().upper().startswith("DELETE"))
    return seconds, scans, delete


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pg_plans", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("CONNECTOR_TEST_DATABASE_URL") or DEFAULT_URL)
    p.add_argument("--invoices", type=int, default=100_000)
    args = p.parse_args()
    times = {}
    for upkeep in (False, True):
        label = "with statistics upkeep" if upkeep else "without (as before)"
        seconds, scans, delete = run(args.url, args.invoices, upkeep=upkeep)
        times[upkeep] = seconds
        print(f"{label}: {args.invoices} invoices in {seconds:.1f} s, {scans} seq scans of st_invoice_lines")
        print("  last page's DELETE:", outline(delete))
    print(f"ratio (without / with): {times[False] / times[True]:.1f}x")


if __name__ == "__main__":
    main()
