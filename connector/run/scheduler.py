"""`connector serve`: sync on a schedule, and say over HTTP whether that is going well.

APScheduler fires the sync (cron or fixed interval, plus once at start) with
`coalesce=True` and `max_instances=1`: runs that piled up while the process was busy or
asleep become one run, and a run never overlaps the previous one. `/healthz` is what the
container orchestrator watches; `/metrics` what Prometheus scrapes.

On SIGTERM/SIGINT: no new runs are scheduled, the run in flight gets a grace period to
finish (it commits per page and per push batch, so abandoning it is also safe), then exit 0.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connector.config import ConfigError, Settings
from connector.run.gauges import read_store_gauges
from connector.run.lock import LockHeld
from connector.run.metrics import CONTENT_TYPE, ConnectorMetrics
from connector.run.runner import RunFailed, RunOutcome, open_engine, run_once

log = logging.getLogger(__name__)

JOB_ID = "sync"
Runner = Callable[..., RunOutcome]


def make_trigger(settings: Settings) -> BaseTrigger:
    schedule = settings.schedule
    if schedule.cron:
        try:
            return CronTrigger.from_crontab(schedule.cron, timezone=dt.UTC)
        except ValueError as exc:
            raise ConfigError(f"bad setting schedule.cron: {exc}") from None
    return IntervalTrigger(seconds=schedule.interval_seconds, timezone=dt.UTC)


def expected_interval(trigger: BaseTrigger, now: dt.datetime) -> dt.timedelta:
    """The gap between two runs, also for cron (the next two fire times from now)."""
    first: dt.datetime | None = trigger.get_next_fire_time(None, now)
    second: dt.datetime | None = trigger.get_next_fire_time(first, first) if first is not None else None
    if first is None or second is None or second <= first:
        return dt.timedelta(hours=1)
    return second - first


@dataclass
class HealthState:
    """What the last runs did, shared between the scheduler thread and the HTTP server."""

    started_at: dt.datetime
    last_status: str | None = None
    last_error: str | None = None
    last_finished_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    running: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def update(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, value)


def health(
    state: HealthState,
    interval: dt.timedelta,
    overdue_factor: float,  # not money: a ratio of intervals
    now: dt.datetime,
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 only when the last run succeeded and the next is not overdue.

    Status and times only, never the run's error line: the endpoint is unauthenticated, and a
    database error names host, port and database (the error is in the logs and the run row).
    """
    overdue_after = interval * overdue_factor
    body: dict[str, Any] = {
        "last_status": state.last_status,
        "last_success_at": state.last_success_at.isoformat() if state.last_success_at else None,
        "last_finished_at": state.last_finished_at.isoformat() if state.last_finished_at else None,
        "running": state.running,
    }
    if state.last_status == "failed":
        return 503, {**body, "status": "failing", "reason": "the last run failed (see the logs)"}
    if state.last_success_at is None:
        if now - state.started_at <= interval:
            return 200, {**body, "status": "starting"}
        return 503, {**body, "status": "failing", "reason": "no successful run since the service started"}
    if now - state.last_success_at > overdue_after:
        return 503, {
            **body,
            "status": "overdue",
            "reason": f"last successful run is older than {int(overdue_after.total_seconds())}s",
        }
    return 200, {**body, "status": "ok"}


def bearer_ok(authorization: str | None, token: str) -> bool:
    """True when `authorization` is `Bearer <token>` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class SyncService:
    """The scheduler, the HTTP server and the state they share; `start`/`stop` for tests and `serve`."""

    def __init__(
        self,
        settings: Settings,
        *,
        runner: Runner = run_once,
        metrics: ConnectorMetrics | None = None,
        on_run: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.metrics = metrics or ConnectorMetrics()
        self.on_run = on_run
        self.trigger = make_trigger(settings)
        self.state = HealthState(started_at=dt.datetime.now(dt.UTC))
        self.idle = threading.Event()
        self.idle.set()
        self.scheduler = BackgroundScheduler(timezone=dt.UTC)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_SUBMITTED)
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self.port: int | None = None
        self._engine: Engine | None = None

    # ------------------------------------------------------------------ runs

    def run_job(self) -> None:
        """One scheduled sync; never raises (a raise would only reach APScheduler's log)."""
        self.idle.clear()
        self.state.update(running=True)
        clock = time.monotonic()
        status = "failed"
        try:
            if self._engine is None:
                self._engine = open_engine(self.settings, prepare=True, serving=True)
            outcome = self.runner(self.settings, kind="sync", engine=self._engine)
        except LockHeld as exc:
            status = "skipped"
            self.metrics.record_skipped()
            log.warning("scheduled run skipped: another run holds the lock", extra={"reason": str(exc)})
        except (RunFailed, Exception) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.metrics.record_failure(time.monotonic() - clock)
            self.state.update(last_status="failed", last_error=message, last_finished_at=dt.datetime.now(dt.UTC))
            if not isinstance(exc, RunFailed):
                log.error("scheduled run could not start", extra={"error": message})
            self._observe_store(None, getattr(exc, "run_id", None))
        else:
            status = "succeeded"
            self.metrics.record_success(outcome)
            self._observe_store(outcome.program, outcome.run_id)
            now = dt.datetime.now(dt.UTC)
            self.state.update(last_status="succeeded", last_error=None, last_finished_at=now, last_success_at=now)
        finally:
            self.state.update(running=False)
            self.idle.set()
            if self.on_run is not None:
                self.on_run(status)

    def _observe_store(self, program: str | None, run_id: str | None) -> None:
        """Refresh the store's gauges (held, quarantined, findings, push lag); never fails the job."""
        if self._engine is None:
            return
        try:
            self.metrics.record_store(read_store_gauges(self._engine, program, run_id))
        except Exception as exc:  # the database may be what failed; the run's own status stands
            log.warning("could not read the store's gauges", extra={"error": str(exc).splitlines()[0]})

    def _on_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("scheduled run missed its misfire grace time and was skipped",
                        extra={"scheduled_for": str(getattr(event, "scheduled_run_time", None))})
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            self.metrics.record_skipped()
            log.warning("scheduled run skipped: the previous run is still going")
        elif isinstance(event, JobSubmissionEvent) and event.scheduled_run_times:
            scheduled = event.scheduled_run_times[0]
            following = self.trigger.get_next_fire_time(scheduled, scheduled)
            if following is not None and following <= dt.datetime.now(dt.UTC):
                log.warning("late run: missed runs were merged into this one",
                            extra={"scheduled_for": scheduled.isoformat()})

    # ------------------------------------------------------------------ HTTP

    def _build_app(self) -> Starlette:
        async def healthz(_request: Request) -> Response:
            now = dt.datetime.now(dt.UTC)
            code, body = health(self.state, expected_interval(self.trigger, now),
                                self.settings.schedule.overdue_factor, now)
            return JSONResponse(body, status_code=code)

        token = self.settings.serve.metrics_token
        secret = token.get_secret_value() if token is not None else ""

        async def metrics(request: Request) -> Response:
            if secret and not bearer_ok(request.headers.get("authorization"), secret):
                return Response("unauthorized\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

        return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics)])

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, run_now: bool = True) -> None:
        """Bind the HTTP port (0 picks a free one, see `self.port`), start serving and scheduling."""
        serve = self.settings.serve
        sock = socket.socket(socket.AF_INET6 if ":" in serve.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((serve.host, serve.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="connector-http", daemon=True
        )
        self._server_thread.start()
        schedule = self.settings.schedule
        self.scheduler.add_job(
            self.run_job,
            self.trigger,
            id=JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=schedule.misfire_grace_seconds,
            next_run_time=dt.datetime.now(dt.UTC) if run_now else None,
            replace_existing=True,
        )
        self.scheduler.start()
        log.info("serving", extra={"host": serve.host, "port": self.port,
                                   "schedule": schedule.cron or f"every {schedule.interval_seconds}s"})

    def stop(self, grace_seconds: float | None = None) -> bool:
        """Stop scheduling, wait up to the grace for the run in flight, stop HTTP. True if it finished."""
        grace = self.settings.serve.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        finished = self.idle.wait(timeout=grace)
        if not finished:
            log.warning("the run in flight did not finish within the grace period; leaving it",
                        extra={"grace_s": grace})
        if self._server is not None:
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(timeout=10)
        if finished and self._engine is not None:
            self._engine.dispose()
            self._engine = None
        return finished


def serve(settings: Settings) -> None:
    """Block until SIGTERM/SIGINT, then shut down as `SyncService.stop` says; returns (exit 0)."""
    stop = threading.Event()

    def _request_stop(signum: int, _frame: Any) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    service = SyncService(settings)
    try:
        service.start()
        while not stop.wait(timeout=1.0):
            pass
        finished = service.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not finished:
        # The run thread holds no state worth waiting for: everything it did is committed.
        import os

        logging.shutdown()
        os._exit(0)
