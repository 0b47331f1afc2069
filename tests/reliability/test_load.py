"""Load: five scheduled runs back to back over a medium scenario (300 partners, ~3,000
invoices) with 1 % of the records changed between runs. Memory does not grow run over run,
and each incremental run re-reads only what changed (sandbox request counts per path).

The sandbox runs in its own process (`connector sandbox`), so the memory measured here is
the connector's alone; it is counted as live Python objects after a full collection, which
is exact and cheap (tracemalloc would slow the runs several-fold).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.run.runner import open_engine, run_once
from connector.store.models import LedgerEntry

from .conftest import REPO
from .medium import NOW, medium_scenario, one_percent_change

RUNS = 5


class RemoteSandbox:
    """`connector sandbox` in a subprocess, steered over its admin HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.partnerstack_url = url + "/partnerstack/api/v2"
        self.stripe_url = url + "/stripe/v1"

    def apply(self, partial: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_sandbox/apply", json=partial, timeout=30).raise_for_status()

    def reset_stats(self) -> None:
        httpx.post(f"{self.url}/_sandbox/stats/reset", timeout=10).raise_for_status()

    def paths(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}/_sandbox/stats", timeout=10).json()["paths"])


@pytest.fixture
def remote_sandbox(tmp_path: Path) -> Iterator[tuple[RemoteSandbox, dict[str, Any]]]:
    doc = medium_scenario()
    scenario = tmp_path / "medium.json"
    scenario.write_text(json.dumps(doc), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "connector.run.cli", "sandbox", "--scenario", str(scenario),
                             "--port", "0"], stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:
            if "sandbox serving" in line:
                url = line.rsplit(" at ", 1)[1].strip()
                break
        assert url, "the sandbox did not start"
        yield RemoteSandbox(url), doc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def pushed(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.status == "pushed")) or 0


@pytest.mark.slow
def test_five_runs_memory_flat_and_incremental_reads(
    database_url: str, engine: Engine, remote_sandbox: tuple[RemoteSandbox, dict[str, Any]]
) -> None:
    sandbox, doc = remote_sandbox
    settings = Settings(
        database={"url": database_url},
        partnerstack={"base_url": sandbox.partnerstack_url, "public_key": "pk", "secret_key": "sk"},
        stripe={"base_url": sandbox.stripe_url, "api_key": "sk_test_load"},
        program={"file": "programs/consio.toml"},
    )
    objects: list[int] = []
    requests: list[dict[str, int]] = []
    pushed_after: list[int] = []
    shared = open_engine(settings)  # as `connector serve` does: one engine for every scheduled run
    for run in range(RUNS):
        if run:
            sandbox.apply(one_percent_change(doc, run))
        sandbox.reset_stats()
        run_once(settings, as_of=NOW + dt.timedelta(minutes=run), engine=shared)
        requests.append(sandbox.paths())
        objects.append(live_objects())
        pushed_after.append(pushed(engine))

    invoices = len(doc["stripe"]["invoices"])
    changed_invoices = invoices // 100
    assert invoices >= 2500
    # every incremental run pays exactly the new invoices of referred customers
    assert [b - a for a, b in zip(pushed_after, pushed_after[1:], strict=False)] == [changed_invoices] * (RUNS - 1)
    reads = [{p: n for p, n in paths.items() if not p.endswith("/rewards")} for paths in requests]
    full, incremental = reads[0], reads[1:]
    for paths in incremental:
        assert sum(paths.values()) * 4 < sum(full.values()), (full, paths)
        assert paths.get("/stripe/v1/invoices", 0) == 0  # changes come from /v1/events, not re-listing
        assert paths.get("/stripe/v1/events", 0) <= 3
        assert paths.get("/partnerstack/api/v2/partnerships", 0) <= 2  # only the changed partners' page
    # memory: after the first incremental run (which warms the caches), live objects stay flat:
    # within 0.5 % overall and a few hundred objects of noise from one run to the next.
    steady = objects[1:]
    assert max(steady) - min(steady) < 0.005 * steady[0], objects
    assert all(b - a < 400 for a, b in zip(steady, steady[1:], strict=False)), objects
    print(f"load: {invoices} invoices, read requests per run {[sum(p.values()) for p in reads]}, "
          f"pushes per run {[sum(p.values()) - sum(r.values()) for p, r in zip(requests, reads, strict=True)]}, "
          f"live objects per run {objects}")
