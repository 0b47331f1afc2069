"""The push outbox, paged by keyset, offers every payable entry once and in event order.

Event order is (event_at, created_at, entry_key) with undated entries last; ties on the first
two columns and pages that end in the middle of a tie are where keyset paging goes wrong.
"""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from connector.push.pages import outbox_pages as _outbox_pages
from connector.store.models import LedgerEntry

BASE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _entry(key: str, program: str, status: str, event_at: dt.datetime | None, created_at: dt.datetime) -> LedgerEntry:
    return LedgerEntry(
        entry_key=key, group_key=key, program=program, partnership_key="p1", customer_key="c1", kind="commission",
        basis_minor=1000, rate="0.1", amount_minor=100, currency="USD", status=status, sources=[],
        event_at=event_at, created_at=created_at,
    )


def _world(rng: random.Random) -> tuple[list[LedgerEntry], list[str]]:
    """Entries with few distinct times (many ties), some undated, some not payable or of another program."""
    moments = [BASE + dt.timedelta(seconds=s) for s in (0, 0.5, 1, 3600)]
    rows, expected = [], []
    for n in range(40):
        key = f"e{rng.randrange(1000):03d}-{n:02d}"
        event_at = rng.choice([*moments, None])
        created_at = rng.choice(moments[:2])
        program = rng.choice(["consio", "consio", "consio", "other"])
        status = rng.choice(["payable", "payable", "payable", "pushed", "held"])
        rows.append(_entry(key, program, status, event_at, created_at))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    payable = [r for r in rows if r.program == "consio" and r.status == "payable"]
    payable.sort(key=lambda r: (r.event_at is None, r.event_at or far, r.created_at, r.entry_key))
    expected = [r.entry_key for r in payable]
    return rows, expected


@pytest.mark.parametrize("seed", range(4))
def test_pages_cover_the_payable_entries_once_in_event_order(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    rows, expected = _world(rng)
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        session.execute(delete(LedgerEntry))
        session.add_all(rows)
    ctx: Any = SimpleNamespace(sessions=sessions)
    for size in (1, 2, 3, 7, 500):
        pages = list(_outbox_pages(ctx, "consio", size))
        assert [key for page in pages for key in page] == expected, f"page size {size}"
        assert all(1 <= len(page) <= size for page in pages)


def test_an_entry_left_payable_behind_the_cursor_is_not_offered_again(engine: Engine) -> None:
    """A rejected reward stays payable; the pages already past it do not bring it back in the same run."""
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        session.add_all([_entry(f"k{n}", "consio", "payable", BASE + dt.timedelta(minutes=n), BASE) for n in range(5)])
    ctx: Any = SimpleNamespace(sessions=sessions)
    seen: list[str] = []
    for page in _outbox_pages(ctx, "consio", 2):
        seen += page
        with Session(engine) as session, session.begin():  # the first of each page is "pushed", the rest rejected
            entry = session.get(LedgerEntry, page[0])
            assert entry is not None
            entry.status = "pushed"
    assert seen == ["k0", "k1", "k2", "k3", "k4"]
