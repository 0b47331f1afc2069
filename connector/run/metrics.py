"""Prometheus metrics of the scheduled worker, on a registry of its own.

A registry per service (not the process-global default) keeps tests and a second service
in one process from colliding on metric names. Pushed amounts are counters, so refunds
pushed as negative rewards are counted under `sign="negative"` as positive numbers: net
paid = positive − negative.

What an on-call engineer alerts on (deploy/prometheus/alerts.yml): failed runs, the last
success, push lag (age of the oldest payable entry), quarantined records; held money by gate,
findings by kind, run durations, and each API's requests, retries and 429s explain them.
No `_created` series: they double every counter and nobody alerts on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.http.observed import OBSERVED

if TYPE_CHECKING:
    from connector.run.gauges import StoreGauges
    from connector.run.runner import RunOutcome

CONTENT_TYPE = CONTENT_TYPE_LATEST
RUN_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

disable_created_metrics()  # type: ignore[no-untyped-call]


class _HttpCollector(Collector):
    """Requests, retries and 429s per API since the process started (`adapters.http.observed`)."""

    def collect(self) -> Iterator[Metric]:
        families = {
            "requests": CounterMetricFamily("connector_http_requests", "HTTP responses received, by API.",
                                            labels=["api"]),
            "retries": CounterMetricFamily("connector_http_retries", "HTTP requests retried, by API.",
                                           labels=["api"]),
            "throttled": CounterMetricFamily("connector_http_throttled",
                                             "HTTP 429 (rate limited) responses, by API.", labels=["api"]),
        }
        for api, totals in OBSERVED.snapshot().items():
            for name, family in families.items():
                family.add_metric([api], getattr(totals, name))
        yield from families.values()


class _GcCollector(Collector):
    """The default GC collector's metrics on this registry (it registers itself only globally)."""

    def collect(self) -> Iterator[Metric]:
        yield from GC_COLLECTOR.collect()


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
        self.run_duration = Histogram(
            "connector_run_duration_seconds", "Durations of finished runs (succeeded or failed).",
            buckets=RUN_DURATION_BUCKETS, registry=r,
        )
        self.last_success = Gauge(
            "connector_last_success_timestamp_seconds", "Unix time the last successful run finished.", registry=r
        )
        self._store_gauges(r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        r.register(_GcCollector())
        r.register(_HttpCollector())
        for status in ("succeeded", "failed", "skipped"):
            self.runs.labels(status=status)
        for stage in ("run", "push"):
            self.errors.labels(stage=stage)

    def _store_gauges(self, r: CollectorRegistry) -> None:
        self.held_amount = Gauge("connector_held_amount_minor",
                                 "Money held by a gate, in minor units, by gate and currency.",
                                 ["gate", "currency"], registry=r)
        self.held_entries = Gauge("connector_held_entries", "Ledger entries held, by gate.", ["gate"], registry=r)
        self.quarantined = Gauge("connector_quarantined_records",
                                 "Upstream records in quarantine, not yet resolved (could not be mapped or validated).",
                                 registry=r)
        self.parked = Gauge("connector_parked_records",
                            "Records parked because a retry cannot fix them (a referenced object gone, a body "
                            "unusable after every retry), not yet resolved.", registry=r)
        self.findings = Gauge("connector_findings", "Findings of the last run, by kind.", ["kind"], registry=r)
        self.oldest_payable: dt.datetime | None = None
        self.push_lag = Gauge("connector_push_lag_seconds",
                              "Age of the oldest payable ledger entry not yet accepted by the platform (0: none).",
                              registry=r)
        self.push_lag.set_function(self._push_lag)

    def _push_lag(self) -> float:  # not money: seconds
        if self.oldest_payable is None:
            return 0.0
        return max(0.0, (dt.datetime.now(dt.UTC) - self.oldest_payable).total_seconds())

    def record_store(self, gauges: StoreGauges) -> None:
        """Set the gauges read from the store after a run (see `connector.run.gauges`)."""
        self.quarantined.set(gauges.quarantined)
        self.parked.set(gauges.parked)
        self.held_amount.clear()
        self.held_entries.clear()
        held_by_gate: dict[str, int] = {}
        for held in gauges.held:
            self.held_amount.labels(gate=held.gate, currency=held.currency).set(held.amount_minor)
            held_by_gate[held.gate] = held_by_gate.get(held.gate, 0) + held.entries
        for gate, entries in held_by_gate.items():
            self.held_entries.labels(gate=gate).set(entries)
        self.findings.clear()
        for kind, count in gauges.findings.items():
            self.findings.labels(kind=kind).set(count)
        self.oldest_payable = gauges.oldest_payable

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
        self.run_duration.observe(outcome.duration_seconds)
        if outcome.finished_at is not None:
            self.last_success.set(outcome.finished_at.timestamp())

    def record_failure(self, duration_seconds: float) -> None:
        self.runs.labels(status="failed").inc()
        self.errors.labels(stage="run").inc()
        self.last_duration.set(duration_seconds)
        self.run_duration.observe(duration_seconds)

    def record_skipped(self) -> None:
        self.runs.labels(status="skipped").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
