"""The push reads and builds the next batch while one is on the wire, and still marks `sending` only
the batch it is about to send (issue 20, item 3).

Why it matters: a crash must leave no more entries `sending` (for recovery to look up on a platform
without idempotency) than the batch in flight, and a partner must still see its entries in event
order, one batch after another.
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import connector.push.outbox as outbox
from connector.config import Settings
from connector.ledger.compute import compute
from connector.push.destination import Held
from connector.rules.program import Program
from connector.store.models import LedgerEntry
from tests.rules.builders import context, program
from tests.run.test_approval import _world  # two partners, three invoices: ada 20000 + 10000, bob 4000

AS_OF = "2026-04-01"


class Watching:
    """A platform that, on each send, notes which entries are `sending` in the store and whether the
    next batch's body was built while this one was still on the wire."""

    name = "test platform"
    concurrency = 2

    def __init__(self, engine: Engine, order: list[str]) -> None:
        self.engine = engine
        self.order = order  # the entries in event order, one batch each
        self.built: list[str] = []
        self.sent: list[tuple[str, int]] = []
        self.sending_at_send: list[set[str]] = []
        self.next_built_in_flight: list[bool] = []
        self._built_event: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _event(self, key: str) -> threading.Event:
        with self._lock:
            return self._built_event.setdefault(key, threading.Event())

    def bodies(self, session: Session, entries: Sequence[LedgerEntry], program: Program) -> list[dict[str, Any] | Held]:
        for e in entries:
            self.built.append(e.entry_key)
            self._event(e.entry_key).set()
        return [{"entry": e.entry_key, "amount": e.payout_amount_minor} for e in entries]

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        with Session(self.engine) as session:
            sending = set(session.scalars(select(LedgerEntry.entry_key).where(LedgerEntry.push_state == "sending")))
        self.sending_at_send.append(sending)
        position = self.order.index(body["entry"])
        if position + 1 < len(self.order):  # the next batch is read and built while this one waits here
            self.next_built_in_flight.append(self._event(self.order[position + 1]).wait(timeout=10))
        self.sent.append((body["entry"], body["amount"]))
        return {"key": f"rwd_{len(self.sent)}"}

    def platform_key(self, answer: dict[str, Any]) -> str:
        return str(answer["key"])

    def find_mirrored(self, session: Session, program: str, *, store_wide: bool = False) -> dict[str, str]:
        return {}

    def find_pushed(self, bodies: Mapping[str, dict[str, Any]], since: dt.datetime) -> dict[str, str]:
        return {}


def test_the_next_batch_is_built_in_flight_and_only_the_batch_sent_is_sending(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _world().save(engine)
    ctx = context(engine, AS_OF, run_id="r1", settings=Settings())
    compute(ctx, program("consio"), incremental=True)
    with Session(engine) as session:
        in_order = select(LedgerEntry.entry_key).order_by(LedgerEntry.event_at, LedgerEntry.created_at,
                                                           LedgerEntry.entry_key)  # fmt: skip
        order = list(session.scalars(in_order))
    assert len(order) == 3
    monkeypatch.setattr(outbox, "BATCH_SIZE", 1)
    platform = Watching(engine, order)

    result = outbox.push(ctx, program("consio"), destination=platform)

    assert (result.pushed, result.failed, result.held) == (3, 0, 0)
    assert platform.built == order  # each entry built once, in event order
    assert [key for key, _ in platform.sent] == order  # batches one after another: event order kept
    assert sorted(amount for _, amount in platform.sent) == [4000, 10000, 20000]
    assert platform.sending_at_send == [{key} for key in order]  # never a batch not yet on the wire
    assert platform.next_built_in_flight == [True, True]
    assert gc.get_freeze_count() == 0  # the heap frozen for the batches is thawed again
    with Session(engine) as session:
        rows = session.execute(select(LedgerEntry.entry_key, LedgerEntry.push_state, LedgerEntry.push_attempts,
                                      LedgerEntry.platform_reward_key)).all()  # fmt: skip
    assert sorted(rows) == sorted((key, "sent", 1, f"rwd_{n + 1}") for n, key in enumerate(order))
