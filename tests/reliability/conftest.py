"""Shared helpers for the reliability proof (issue #6): databases, sandbox, CLI subprocesses.

Every check here compares an outcome with a *clean* run's, so the helpers reduce a store
and a sandbox to plain, comparable values: the ledger (entry keys, amounts, statuses) and
the rewards on the platform (amount and which entry each one pays, counted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import adapters.http
from adapters.partnerstack.rewards import embedded_entry_keys
from connector.store.models import LedgerEntry
from sandbox.server import SandboxServer

from ..conftest import child_env, fresh_database
from ..run.conftest import settings_values, write_config
from ..run.storewide import assert_as_store_wide

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"
KILLHOOK_DIR = Path(__file__).resolve().parent / "killhook"
AS_OF = "2026-06-30T00:00:00Z"
CONNECTOR = [sys.executable, "-m", "connector.run.cli"]

LedgerRow = tuple[str, str, int, int, str, str, str]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen, waits do not (in-process runs; subprocesses get tiny backoffs instead)."""
    monkeypatch.setattr(adapters.http, "sleep", lambda _s: None)


def extra_database(tmp_path: Path, name: str) -> AbstractContextManager[str]:
    """A second fresh, migrated database (same backend as `database_url`), for a reference run."""
    return fresh_database(tmp_path, name)


def ledger_rows(engine: Engine) -> list[LedgerRow]:
    """The ledger as comparable tuples: key, kind, basis, amount, currency, status, push state."""
    with Session(engine) as session:
        entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.entry_key)).all()
        return [
            (e.entry_key, e.kind, e.basis_minor, e.amount_minor, e.currency, e.status, e.push_state or "")
            for e in entries
        ]


def platform_rewards(server: SandboxServer) -> list[dict[str, Any]]:
    body = httpx.get(f"{server.url}/_sandbox/rewards", timeout=10).json()
    return list(body["data"])


def paid_entry(reward: dict[str, Any]) -> str:
    """The entry a reward pays, read from the marker in its description (PartnerStack keeps no other field)."""
    (key,) = embedded_entry_keys(reward)
    return key


def reward_counts(server: SandboxServer) -> Counter[tuple[str, int]]:
    """Each pushed reward as (entry it pays, amount), counted: a duplicate shows as 2."""
    return Counter((paid_entry(r), int(r["amount"])) for r in platform_rewards(server))


def sandbox_stats(server: SandboxServer) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/_sandbox/stats", timeout=10).json())


def reset_stats(server: SandboxServer) -> None:
    httpx.post(f"{server.url}/_sandbox/stats/reset", timeout=10)


def assert_rewards_match_ledger(engine: Engine, server: SandboxServer) -> None:
    """Every pushed entry is on the platform exactly once, with its amount; nothing else is."""
    with Session(engine) as session:
        pushed = session.scalars(select(LedgerEntry).where(LedgerEntry.status == "pushed")).all()
        expected = Counter((e.entry_key, e.amount_minor) for e in pushed)
        keys = {e.entry_key: e.platform_reward_key for e in pushed}
    assert reward_counts(server) == expected
    assert {paid_entry(r): r["key"] for r in platform_rewards(server)} == keys
    assert_as_store_wide(engine)  # push's incremental passes ended where its store-wide ones would


def config_file(tmp_path: Path, database_url: str, server: SandboxServer | None, **sections: dict[str, Any]) -> Path:
    """A TOML config for a CLI subprocess: JSON logs, tiny backoffs (a subprocess cannot be patched)."""
    values = settings_values(database_url, server, **sections)
    values.setdefault("log", {}).setdefault("format", "json")
    http = values.setdefault("http", {})
    http.setdefault("backoff_initial_seconds", 0)
    http.setdefault("backoff_max_seconds", 0)
    http.setdefault("retry_after_max_seconds", 0)
    return write_config(tmp_path / f"connector-{uuid.uuid4().hex[:6]}.toml", values)


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`connector ARGS` in a real subprocess (killable, with its own stderr)."""
    full_env = child_env()
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    return subprocess.run(
        [*CONNECTOR, *args], capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=timeout,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    assert "Traceback" not in result.stdout, result.stdout[-4000:]


def json_log_lines(text_: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in text_.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
