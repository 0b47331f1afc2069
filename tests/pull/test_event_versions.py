"""Events in any API version (issue 14, item 2): an event whose `api_version` is not the pinned one
is not mapped; its object is fetched again in the pinned version, once per object per chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from adapters.stripe import StripeClient
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


def test_products_in_another_version_are_fetched_a_page_of_ids_at_a_time(database_url: str) -> None:
    """Stripe's product list takes `ids[]` (no other list the adapter reads does): three products
    changed in a pre-basil account cost one list request, not three GETs."""
    world = _world()
    world["stripe"]["products"] += [
        {"id": f"prod_{n}", "name": f"Product {n}", "metadata": {"category": "software"}, "created": _iso(_at(-20))}
        for n in (1, 2, 3)
    ]
    with SandboxServer(world, event_api_version="2024-06-20") as srv:
        run_once(make_settings(database_url, srv), as_of=T0)
        srv.apply({"now": _iso(_at(2)), "stripe": {"products": [
            {"id": pid, "metadata": {"category": "services"}} for pid in ("prod_platform", "prod_1", "prod_2")
        ]}})
        httpx.post(f"{srv.url}/_sandbox/stats/reset")
        final = run_once(make_settings(database_url, srv), as_of=_at(3))
        paths = httpx.get(f"{srv.url}/_sandbox/stats").json()["paths"]
        client = StripeClient(make_settings(database_url, srv))
        try:  # only the ids asked for; one that does not exist is absent
            assert set(client.list_by_ids("products", ["prod_1", "prod_gone"])) == {"prod_1"}
        finally:
            client.close()
    assert any("3 object(s) whose events are in API version 2024-06-20" in n for n in final.notes)
    assert paths["/stripe/v1/products"] == 1
    assert not [p for p in paths if p.startswith("/stripe/v1/products/")]
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            categories = dict(conn.execute(text("SELECT id, category FROM st_products")).all())
    finally:
        engine.dispose()
    assert categories == {"prod_platform": "services", "prod_1": "services", "prod_2": "services", "prod_3": "software"}


def test_objects_fetched_again_count_in_their_streams_requests(database_url: str) -> None:
    """The run report's per-stream request count is the operator's view of the rate limit spent:
    the GETs that fetch an object again in the pinned version are the stream's requests too (one
    `ids[]` list for three products, one GET for the invoice)."""
    world = _world()
    world["stripe"]["products"] += [
        {"id": f"prod_{n}", "name": f"Product {n}", "metadata": {"category": "software"}, "created": _iso(_at(-20))}
        for n in (1, 2)
    ]
    with SandboxServer(world, event_api_version="2024-06-20") as srv:
        run_once(make_settings(database_url, srv), as_of=T0)
        srv.apply({"now": _iso(_at(2)), "stripe": {"products": [
            {"id": pid, "metadata": {"category": "services"}} for pid in ("prod_platform", "prod_1", "prod_2")
        ]}})
        _pay_a3(srv, _at(2))
        httpx.post(f"{srv.url}/_sandbox/stats/reset")
        final = run_once(make_settings(database_url, srv), as_of=_at(3))
        paths = httpx.get(f"{srv.url}/_sandbox/stats").json()["paths"]
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            requests = dict(conn.execute(
                text("SELECT stream, requests FROM run_stream_stats WHERE run_id = :run"), {"run": final.run_id}
            ).all())
    finally:
        engine.dispose()
    assert paths["/stripe/v1/products"] == 1
    assert paths["/stripe/v1/invoices/in_A3"] == 1
    assert requests["stripe.products"] == 1
    assert requests["stripe.invoices"] == 1
