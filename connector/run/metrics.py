"""Prometheus metrics of the scheduled worker, on a registry of its own.

A registry per service (not the process-global default) keeps tests and a second service
in one process from colliding on metric names. Pushed amounts are counters, so refunds
pushed as negative rewards are counted under `sign="negative"` as positive numbers: net
paid = positive − negative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from connector.run.runner import RunOutcome

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter("connector_runs", "Runs finished, by status.", ["status"], registry=r)
        self.pulled = Counter("connector_records_pulled", "Records pulled, by stream.", ["stream"], registry=r)
        self.entries_appended = Counter("connector_ledger_entries_appended", "Ledger entries appended.", registry=r)
        self.rewards_pushed = Counter("connector_rewards_pushed", "Rewards accepted by the platform.", registry=r)
        self.amount_pushed = Counter(
            "connector_pushed_amount_minor",
            "Reward amounts accepted by the platform, in minor units, by currency and sign.",
            ["currency", "sign"],
            registry=r,
        )
        self.errors = Counter("connector_errors", "Errors, by stage (run, push).", ["stage"], registry=r)
        self.last_duration = Gauge(
            "connector_last_run_duration_seconds", "Duration of the last finished run.", registry=r
        )
        self.last_success = Gauge(
            "connector_last_success_timestamp_seconds", "Unix time the last successful run finished.", registry=r
        )
        for status in ("succeeded", "failed", "skipped"):
            self.runs.labels(status=status)
        for stage in ("run", "push"):
            self.errors.labels(stage=stage)

    def record_success(self, outcome: RunOutcome) -> None:
        self.runs.labels(status="succeeded").inc()
        for stream, count in outcome.pulled.items():
            self.pulled.labels(stream=stream).inc(count)
        self.entries_appended.inc(outcome.entries_appended)
        if outcome.push is not None:
            self.rewards_pushed.inc(outcome.push.pushed + outcome.push.recovered)
            for currency, amount in outcome.push.amounts.items():
                self.amount_pushed.labels(currency=currency, sign="positive").inc(amount.positive)
                self.amount_pushed.labels(currency=currency, sign="negative").inc(amount.negative)
            if outcome.push.failed:
                self.errors.labels(stage="push").inc(outcome.push.failed)
        self.last_duration.set(outcome.duration_seconds)
        if outcome.finished_at is not None:
            self.last_success.set(outcome.finished_at.timestamp())

    def record_failure(self, duration_seconds: float) -> None:
        self.runs.labels(status="failed").inc()
        self.errors.labels(stage="run").inc()
        self.last_duration.set(duration_seconds)

    def record_skipped(self) -> None:
        self.runs.labels(status="skipped").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
