"""A pull transaction's commit does not wait for PostgreSQL's WAL flush; nothing else changes.

Why: the pull commits a page and its cursor thousands of times in a backfill, and losing the
last of those commits to a server crash only means reading those pages again
(`connector.pull.pages.transaction`). The ledger, the push and the run bookkeeping must keep
the server's durable default, so the setting is the transaction's own (`SET LOCAL`).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from connector.config import Settings
from connector.pull.pages import transaction
from connector.store.db import transaction as store_transaction
from tests.conftest import on_postgres
from tests.pull.conftest import MakeCtx


def test_only_the_pull_transaction_commits_without_waiting_for_the_flush(engine: Engine, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(Settings(database={"url": engine.url.render_as_string(hide_password=False)}))
    if not on_postgres():
        with transaction(ctx) as session:  # SQLite: nothing to set, the transaction works as before
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        return
    with transaction(ctx) as session:
        assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    with transaction(ctx) as session:  # the same pooled connection, after the commit
        assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    with store_transaction(ctx.sessions) as session:  # what the ledger and the push use
        assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
