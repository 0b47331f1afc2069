"""After a push, PostgreSQL plans the next run's outbox reads from the ledger as it is, not as booked.

Why: a push moves every entry it sends from `payable` to `pushed` in place. The table does not
grow, so the planner upkeep that analyzes a growing table never ran, and the statistics went on
saying the ledger was mostly `payable`. The L no-change sync on PostgreSQL then spent 7 s of
server time scanning every entry for an outbox that was empty (count, pages, the mirrored
search). The push now reports the entries it moved and settles the statistics when it is done
(`connector.store.planner.settle_statistics`).

The status read-back's second set (pushed, not read back) is read through its partial index a
page at a time: PostgreSQL multiplies "has a reward key" by "no platform status" as if they were
independent and planned one statement over both as a scan of every entry.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

import connector.push.outbox as outbox
import connector.push.status as status_mod
from connector.ledger.store import write
from connector.push.pages import payable
from connector.store.models import LedgerEntry
from tests.conftest import on_postgres
from tests.report.builders import entry
from tests.rules.builders import context, program
from tests.run.test_approval import Platform

ENTRIES = 3_000
BOOKED_PER_TRANSACTION = 1_000
postgres_only = pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's planner (set CONNECTOR_TEST_DATABASE_URL)")


def _book(engine: Engine, count: int, status: str, start: int = 0) -> None:
    for first in range(start, start + count, BOOKED_PER_TRANSACTION):
        appended = [
            entry(f"g{n:06d}|in_{n:06d}", customer=f"cust_{n:06d}", basis=10_000, amount=2_000, status=status,
                  event_at="2026-03-01T00:00:00Z")
            for n in range(first, min(first + BOOKED_PER_TRANSACTION, start + count))
        ]  # fmt: skip
        with Session(engine) as session, session.begin():
            write(session, appended, [], program="consio")


def _plan(engine: Engine, stmt: Any) -> str:
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with Session(engine) as session:
        return "\n".join(session.execute(text("EXPLAIN " + sql)).scalars())


def _outbox_count() -> Any:
    return select(func.count()).select_from(LedgerEntry).where(*payable("consio"))


def _push_everything(engine: Engine) -> None:
    _book(engine, ENTRIES, "payable")
    platform = Platform()  # takes every reward at once, mirrors nothing
    result = outbox.push(context(engine, "2026-04-01"), program("consio"), destination=platform)
    assert (result.pushed, len(platform.sent)) == (ENTRIES, ENTRIES)
    with Session(engine) as session:
        assert session.scalar(_outbox_count()) == 0


@pytest.mark.postgres
@postgres_only
def test_after_a_push_the_empty_outbox_is_read_through_its_index(engine: Engine) -> None:
    _push_everything(engine)
    plan = _plan(engine, _outbox_count())
    assert "Seq Scan on ledger_entries" not in plan, plan
    assert "Index" in plan, plan


@pytest.mark.postgres
@postgres_only
def test_without_settling_the_statistics_the_empty_outbox_was_a_scan(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same push with the settling switched off gives the plan the L no-change sync had: the
    test above can fail."""
    monkeypatch.setattr(outbox, "settle_statistics", lambda *_: None)
    _push_everything(engine)
    assert "Seq Scan on ledger_entries" in _plan(engine, _outbox_count())


def _unread_ledger(engine: Engine) -> list[str]:
    """8,000 entries never pushed (held), 2,000 pushed and read back, 5 pushed and not read back; analyzed."""
    _book(engine, 8_000, "held")
    _book(engine, 2_005, "pushed", start=8_000)
    unread = [f"g{n:06d}|in_{n:06d}#0" for n in range(8_000, 8_005)]
    with Session(engine) as session, session.begin():
        pushed = {"platform_reward_key": "rwd_" + LedgerEntry.entry_key, "platform_status": "approved"}
        session.execute(update(LedgerEntry).where(LedgerEntry.status == "pushed").values(pushed))
        session.execute(update(LedgerEntry).where(LedgerEntry.entry_key.in_(unread)).values(platform_status=None))
        session.execute(text("ANALYZE ledger_entries"))
    return unread


@pytest.mark.postgres
@postgres_only
def test_the_entries_not_read_back_are_paged_through_their_partial_index(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    unread = _unread_ledger(engine)
    monkeypatch.setattr(status_mod, "UNREAD_PAGE", 2)
    unpaged = (select(LedgerEntry.entry_key)
               .where(LedgerEntry.program == "consio", LedgerEntry.platform_reward_key.is_not(None),
                      LedgerEntry.platform_status.is_(None)))  # fmt: skip
    assert "ix_ledger_status_unread" not in _plan(engine, unpaged)  # the guess: a scan of every entry
    with Session(engine) as session:
        pages = list(status_mod._unread_pages(session, "consio"))
    assert pages == [unread[0:2], unread[2:4], unread[4:5]]
    plan = _plan(engine, status_mod.unread_page("consio", unread[1]))
    assert "ix_ledger_status_unread" in plan, plan
    assert "Seq Scan on ledger_entries" not in plan, plan
