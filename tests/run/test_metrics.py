"""/metrics: the gauges an on-call engineer alerts on, read from the store after each run."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.run.gauges import read_store_gauges
from connector.run.metrics import ConnectorMetrics
from connector.run.runner import RunOutcome
from connector.run.scheduler import SyncService
from connector.store.models import Finding, LedgerEntry, Quarantine
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings


def entry(key: str, status: str, amount: int, *, now: dt.datetime, reason: str | None = None,
          payable_at: dt.datetime | None = None, currency: str = "usd") -> LedgerEntry:
    return LedgerEntry(
        entry_key=key, group_key=key, seq=0, program="consio", partnership_key="part_x", customer_key="cus_x",
        kind="commission", basis_minor=amount * 5, rate="0.2", amount_minor=amount, currency=currency,
        status=status, reason=reason, sources=[], event_at=now, payable_at=payable_at, created_run_id="r1",
        created_at=now - dt.timedelta(hours=5), push_attempts=0,
    )


def seed(engine: Engine, now: dt.datetime) -> None:
    """Seeds rows dated relative to ``now``, taken when the test starts, so a long suite cannot age them."""
    with Session(engine) as session, session.begin():
        session.add_all([
            entry("a", "held", 1500, now=now, reason="w9_missing"),
            entry("b", "held", 2500, now=now, reason="w9_missing"),
            entry("c", "held", 700, now=now, reason="bank_missing", currency="eur"),
            entry("d", "payable", 900, now=now, payable_at=now - dt.timedelta(hours=3)),
            entry("e", "payable", 100, now=now),  # no date: waits since it was created, 5 h ago
            entry("f", "pushed", 100, now=now, payable_at=now - dt.timedelta(days=9)),
        ])
        session.add_all([
            Quarantine(run_id="r1", source="stripe.invoices", source_id=f"in_{i}", error="bad", payload=None,
                       created_at=now)
            for i in range(3)
        ])
        session.add_all([
            Finding(run_id="r1", program="consio", subject_key="cus_x", code="margin_unknown", detail=None),
            Finding(run_id="r1", program="consio", subject_key="cus_y", code="margin_unknown", detail=None),
            Finding(run_id="r0", program="consio", subject_key="cus_z", code="old_run", detail=None),
        ])


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_store_gauges_by_gate_quarantine_findings_and_push_lag(engine: Engine) -> None:
    seed(engine, dt.datetime.now(dt.UTC))
    metrics = ConnectorMetrics()
    metrics.record_store(read_store_gauges(engine, "consio", "r1"))
    got = samples(metrics.exposition().decode())
    assert got['connector_held_amount_minor{currency="usd",gate="w9_missing"}'] == 4000
    assert got['connector_held_amount_minor{currency="eur",gate="bank_missing"}'] == 700
    assert got['connector_held_entries{gate="w9_missing"}'] == 2
    assert got['connector_held_entries{gate="bank_missing"}'] == 1
    assert got["connector_quarantined_records"] == 3
    assert got['connector_findings{kind="margin_unknown"}'] == 2
    assert 'connector_findings{kind="old_run"}' not in got
    lag = got["connector_push_lag_seconds"]
    assert 5 * 3600 - 60 < lag < 5 * 3600 + 600  # the undated payable entry, created 5 h ago
    # a gate that no longer holds anything disappears instead of keeping its last value
    metrics.record_store(read_store_gauges(engine, None, None))
    got = samples(metrics.exposition().decode())
    assert not any(name.startswith("connector_held") for name in got)
    assert got["connector_push_lag_seconds"] == 0


def test_metrics_after_a_scheduled_run(database_url: str, sandbox: SandboxServer) -> None:
    from connector.run.runner import run_once

    finished = threading.Event()

    def sync_as_of_scenario(settings: Any, **kwargs: Any) -> RunOutcome:
        return run_once(settings, **{**kwargs, "as_of": AS_OF})

    settings = make_settings(database_url, sandbox, serve={"host": "127.0.0.1", "port": 0})
    service = SyncService(settings, runner=sync_as_of_scenario, on_run=lambda _status: finished.set())
    service.start(run_now=True)
    try:
        assert finished.wait(timeout=60)
        text = httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
    finally:
        assert service.stop() is True
    got = samples(text)
    assert got["connector_quarantined_records"] == 0
    assert got["connector_push_lag_seconds"] == 0  # every payable entry was pushed
    assert got["connector_run_duration_seconds_count"] == 1
    assert got['connector_http_requests_total{api="PartnerStack"}'] > 0
    assert got['connector_http_requests_total{api="Stripe"}'] > 0
    assert 'connector_http_throttled_total{api="Stripe"}' in got
    assert "process_resident_memory_bytes" in got and any(n.startswith("python_gc_") for n in got)
    assert not re.search(r"_created\b", text)
