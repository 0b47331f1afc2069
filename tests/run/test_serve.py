"""`connector serve`: scheduled syncs, /healthz and /metrics, and a clean stop."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import httpx
import pytest

from connector.config import ConfigError
from connector.run.runner import RunFailed, RunOutcome
from connector.run.scheduler import HealthState, SyncService, expected_interval, health, make_trigger
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings

T0 = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def service_settings(database_url: str, server: SandboxServer | None, **schedule: Any) -> Any:
    return make_settings(
        database_url, server,
        schedule={"interval_seconds": 3600, **schedule},
        serve={"host": "127.0.0.1", "port": 0, "shutdown_grace_seconds": 5},
    )


def test_scheduled_sync_then_healthz_and_metrics(database_url: str, sandbox: SandboxServer) -> None:
    from connector.run.runner import run_once

    finished = threading.Event()

    def sync_as_of_scenario(settings: Any, **kwargs: Any) -> RunOutcome:
        return run_once(settings, **{**kwargs, "as_of": AS_OF})

    service = SyncService(service_settings(database_url, sandbox), runner=sync_as_of_scenario,
                          on_run=lambda _status: finished.set())
    service.start(run_now=True)
    try:
        assert finished.wait(timeout=60)
        base = f"http://127.0.0.1:{service.port}"
        healthz = httpx.get(f"{base}/healthz", timeout=10)
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        assert service.stop() is True
    assert healthz.status_code == 200
    assert healthz.json()["status"] == "ok"
    assert 'connector_runs_total{status="succeeded"} 1.0' in metrics
    assert 'connector_pushed_amount_minor_total{currency="usd",sign="positive"} 40000.0' in metrics
    assert 'connector_pushed_amount_minor_total{currency="usd",sign="negative"} 10000.0' in metrics
    assert "connector_ledger_entries_appended_total 3.0" in metrics
    assert 'connector_records_pulled_total{stream="stripe.invoices"} 2.0' in metrics
    assert "connector_last_success_timestamp_seconds" in metrics


def test_healthz_starting_then_failing(database_url: str) -> None:
    release = threading.Event()
    finished = threading.Event()

    def failing(_settings: Any, **_kwargs: Any) -> RunOutcome:
        assert release.wait(timeout=30)
        raise RunFailed("pull failed: PartnerStack rejected the API keys (401)")

    service = SyncService(service_settings(database_url, None), runner=failing,
                          on_run=lambda _status: finished.set())
    service.start(run_now=True)
    try:
        base = f"http://127.0.0.1:{service.port}"
        starting = httpx.get(f"{base}/healthz", timeout=10)
        release.set()
        assert finished.wait(timeout=30)
        failing_now = httpx.get(f"{base}/healthz", timeout=10)
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        service.stop()
    assert (starting.status_code, starting.json()["status"]) == (200, "starting")
    assert failing_now.status_code == 503
    # status and times only: the error line (which may name a database host) stays in the logs
    assert failing_now.json()["reason"] == "the last run failed (see the logs)"
    assert "PartnerStack" not in failing_now.text and "401" not in failing_now.text
    assert 'connector_runs_total{status="failed"} 1.0' in metrics
    assert 'connector_errors_total{stage="run"} 1.0' in metrics


def test_stop_waits_for_the_run_in_flight_only_up_to_the_grace(database_url: str) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(_settings: Any, **_kwargs: Any) -> RunOutcome:
        started.set()
        release.wait(timeout=30)
        raise RunFailed("stopped")

    service = SyncService(service_settings(database_url, None), runner=slow)
    service.start(run_now=True)
    assert started.wait(timeout=30)
    try:
        assert service.stop(grace_seconds=0.05) is False  # still running: give up waiting
    finally:
        release.set()
    assert service.idle.wait(timeout=30)


@pytest.mark.parametrize(
    ("state", "now", "expected"),
    [
        (HealthState(started_at=T0), T0 + HOUR / 2, (200, "starting")),
        (HealthState(started_at=T0), T0 + HOUR * 2, (503, "failing")),
        (HealthState(started_at=T0, last_status="succeeded", last_success_at=T0), T0 + HOUR * 2, (200, "ok")),
        (HealthState(started_at=T0, last_status="succeeded", last_success_at=T0), T0 + HOUR * 3, (503, "overdue")),
        (HealthState(started_at=T0, last_status="failed", last_error="boom", last_success_at=T0), T0, (503, "failing")),
    ],
    ids=["starting", "no-success-yet", "ok", "overdue", "last-failed"],
)
def test_health_rules(state: HealthState, now: dt.datetime, expected: tuple[int, str]) -> None:
    code, body = health(state, HOUR, 2.5, now)
    assert (code, body["status"]) == expected


def test_cron_schedule_and_its_interval(database_url: str) -> None:
    settings = service_settings(database_url, None, cron="*/15 * * * *")
    trigger = make_trigger(settings)
    assert expected_interval(trigger, T0) == dt.timedelta(minutes=15)
    with pytest.raises(ConfigError, match="schedule.cron"):
        make_trigger(service_settings(database_url, None, cron="every tuesday"))
