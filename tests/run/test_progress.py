"""JSON-mode progress: a line per stage while the run goes, and `run_id` on every line of the run."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.run.logs import setup_logging
from connector.run.progress import ProgressLog
from connector.run.runner import run_once
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    setup_logging("INFO", "json", stream=stream)
    yield stream
    setup_logging("WARNING", "text", stream=io.StringIO())
    logging.getLogger().handlers = [h for h in logging.getLogger().handlers
                                    if not getattr(h, "_connector_handler", False)]


def test_a_json_mode_backfill_logs_progress_with_its_run_id(
    tmp_path: Path, database_url: str, sandbox: SandboxServer, json_log: io.StringIO
) -> None:
    settings = make_settings(database_url, sandbox, log={"format": "json", "progress_seconds": 0.001})
    outcome = run_once(settings, kind="backfill", as_of=AS_OF, since=AS_OF.replace(year=2025))
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    run_lines = lines[lines.index(next(x for x in lines if x["msg"] == "run started")):]
    assert all(x.get("run_id") == outcome.run_id for x in run_lines), [x for x in run_lines if "run_id" not in x]
    progress = [x for x in run_lines if x["msg"] == "progress"]
    final = {x["stage"]: x for x in progress}
    assert set(final) == {"pull", "compute", "push"}
    assert final["pull"]["records"] == sum(outcome.pulled.values())
    assert final["pull"]["streams"]["stripe.invoices"]["records"] == 2
    assert (final["push"]["done"], final["push"]["total"]) == (3, 3)
    assert final["compute"]["done"] == final["compute"]["total"] > 0


def test_progress_lines_give_rates_and_an_eta() -> None:
    now = [100.0]
    progress = ProgressLog(clock=lambda: now[0])
    progress.hook("stripe.invoices", 0, None)
    progress.hook("partnerstack.partners", 0, None)
    now[0] = 110.0
    progress.hook("stripe.invoices", 500, None)
    progress.hook("partnerstack.partners", 250, None)
    progress.hook("push", 0, 400)
    now[0] = 130.0
    progress.hook("push", 100, 400)
    assert progress.lines() == [
        {"stage": "pull", "records": 750, "streams": {
            "partnerstack.partners": {"records": 250, "per_s": 8.3},
            "stripe.invoices": {"records": 500, "per_s": 16.7},
        }},
        {"stage": "push", "done": 100, "total": 400, "per_s": 5.0, "eta_s": 60},
    ]
