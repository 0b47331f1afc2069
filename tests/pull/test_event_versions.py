"""Events in any API version (issue 14, item 2): an event whose `api_version` is not the pinned one
is not mapped; its object is fetched again in the pinned version, once per object per chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.run.runner import run_once
from connector.store.db import make_engine
from sandbox.server import SandboxServer
from tests.conftest import fresh_database
from tests.pull.test_event_gap import T0, _at, _iso, _pay_a3, _world
from tests.reliability.conftest import ledger_rows
from tests.run.conftest import make_settings


def _run_history(tmp_path: Path, event_version: str | None) -> tuple[list[Any], list[str], dict[str, int]]:
    """First sync, then changes (an invoice paid, a refund, a renamed customer), then a sync."""
    with SandboxServer(_world(), event_api_version=event_version) as srv, \
            fresh_database(tmp_path, f"v{event_version}") as url:
        run_once(make_settings(url, srv), as_of=T0)
        _pay_a3(srv, _at(3))
        srv.apply({"now": _iso(_at(4)), "stripe": {
            "customers": [{"id": "cus_ACME", "name": "Acme Robotics GmbH"}],
            "refunds": [{"id": "re_A3", "payment_intent": "pi_A3", "amount": 10000, "currency": "usd",
                         "status": "succeeded"}],
        }})
        httpx.post(f"{srv.url}/_sandbox/stats/reset")
        final = run_once(make_settings(url, srv), as_of=_at(5))
        paths = httpx.get(f"{srv.url}/_sandbox/stats").json()["paths"]
        engine = make_engine(url)
        try:
            return [row[:6] for row in ledger_rows(engine)], final.notes, paths
        finally:
            engine.dispose()


@pytest.mark.usefixtures("database_url")
def test_pre_basil_events_give_the_same_ledger_as_basil_ones(tmp_path: Path) -> None:
    basil, basil_notes, basil_paths = _run_history(tmp_path, None)
    old, old_notes, old_paths = _run_history(tmp_path, "2024-06-20")
    assert any("in_A3" in row[0] for row in basil)
    assert old == basil
    assert not any("fetched again" in n for n in basil_notes)
    assert not any(p.startswith("/stripe/v1/invoices/") for p in basil_paths)
    assert any("in API version 2024-06-20 (pinned 2026-10-28.endive) fetched again" in n for n in old_notes)
    # one GET per object, however many events it had (in_A3: updated, paid)
    assert old_paths["/stripe/v1/invoices/in_A3"] == 1
    assert old_paths["/stripe/v1/customers/cus_ACME"] == 1
