"""What a pull transaction's commit costs on PostgreSQL with and without waiting for the WAL flush.

Why: the pull commits each page (or the few pages its writer batches) with the cursor after it,
thousands of times in a backfill. `connector.pull.pages.transaction` sets `synchronous_commit`
off for those transactions only (a lost commit loses a page and its cursor together; the next run
reads the page again). This writes synthetic invoice pages through the pull's own writer into a
fresh schema, one page a transaction, alternating the durable commit (as before) and the pull's
transaction (as shipped) round by round so that load drifts hit both alike, and prints the
milliseconds per page of each and their ratio:

    python -m bench.pg_commits --pages 300 --rounds 3     # CONNECTOR_TEST_DATABASE_URL or --url
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bench.pg_plans import DEFAULT_URL, PAGE, STREAM, fresh_schema, invoice
from connector.config import DatabaseSettings, Settings
from connector.context import RunContext
from connector.mapping import load_mappings
from connector.pull import StreamStats
from connector.pull.pages import RecordWriter, transaction
from connector.store.db import session_factory

Opener = Callable[[RunContext], AbstractContextManager[Session]]


@contextmanager
def _durable(ctx: RunContext) -> Iterator[Session]:
    """The pull's transaction before: the server's default, every COMMIT waits for the flush."""
    with ctx.sessions() as session, session.begin():
        yield session


def _context(engine: Engine) -> RunContext:
    settings = Settings(database=DatabaseSettings(url=engine.url.render_as_string(hide_password=False)))
    return RunContext(
        settings=settings, engine=engine, sessions=session_factory(engine),
        run_id=str(uuid.uuid4()), kind="backfill", as_of=dt.datetime.now(dt.UTC),
    )  # fmt: skip


def write_pages(engine: Engine, opener: Opener, first: int, pages: int) -> float:
    """Seconds to write `pages` pages of invoices from number `first`, one transaction each."""
    ctx = _context(engine)
    writer = RecordWriter(ctx, load_mappings(ctx.settings, ("stripe",)))
    stats = StreamStats()
    started = time.perf_counter()
    for page in range(pages):
        start = first + page * PAGE
        with opener(ctx) as session:
            writer.write(session, STREAM, [invoice(i) for i in range(start, start + PAGE)], stats)
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pg_commits", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=os.environ.get("CONNECTOR_TEST_DATABASE_URL") or DEFAULT_URL)
    p.add_argument("--pages", type=int, default=300, help="pages per mode per round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    modes: dict[str, Opener] = {"durable commit (before)": _durable, "pull transaction (as shipped)": transaction}
    seconds = dict.fromkeys(modes, 0.0)
    with fresh_schema(args.url) as engine:
        written = 0
        for _ in range(args.rounds):
            for label, opener in modes.items():
                seconds[label] += write_pages(engine, opener, written, args.pages)
                written += args.pages * PAGE
    pages = args.pages * args.rounds
    for label, total in seconds.items():
        print(f"{label}: {pages} pages of {PAGE} invoices, {1000 * total / pages:.2f} ms per page")
    before, after = seconds.values()
    print(f"ratio (before / as shipped): {before / after:.2f}x")


if __name__ == "__main__":
    main()
