"""Safe defaults (issue 15): no fingerprint key ships, `serve` listens on loopback unless told,
/healthz says no error text, /metrics can require a bearer token, no bound parameters in errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from connector.config import Settings, load_settings
from connector.run.cli import app
from connector.run.runner import RunFailed, RunOutcome
from connector.run.scheduler import SyncService, bearer_ok
from connector.store.db import make_engine
from sandbox.server import SandboxServer

from ..conftest import FINGERPRINT_ENV
from .conftest import settings_values, write_config

runner = CliRunner()


def _error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("connector: error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["sync"], ["backfill", "--since", "2026-01-01"], ["serve"]])
def test_no_fingerprint_key_exits_2_naming_the_setting(
    command: list[str], tmp_path: Path, database_url: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FINGERPRINT_ENV)
    config = write_config(tmp_path / "connector.toml", settings_values(
        database_url, sandbox, serve={"host": "127.0.0.1", "port": 0}))
    result = runner.invoke(app, [*command, "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 2, result.stderr
    assert "security.fingerprint_key: not set" in _error_line(result)


@pytest.mark.parametrize("key", ["change-me-fingerprint-key", "CHANGE-ME", "short-key"])
def test_a_published_or_short_key_is_refused_too(
    key: str, tmp_path: Path, database_url: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FINGERPRINT_ENV, key)
    config = write_config(tmp_path / "connector.toml", settings_values(database_url, sandbox))
    result = runner.invoke(app, ["sync", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 2, result.stderr
    line = _error_line(result)
    assert "bad setting security.fingerprint_key" in line and key not in line  # never echo the secret


def test_the_key_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FINGERPRINT_ENV)
    key_file = tmp_path / "fingerprint.key"
    key_file.write_text("0123456789abcdef0123456789abcdef\n", encoding="utf-8")
    settings = Settings(security={"fingerprint_key_file": str(key_file)})
    assert settings.security.fingerprint_key.get_secret_value() == "0123456789abcdef0123456789abcdef"


def test_defaults_listen_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FINGERPRINT_ENV)
    settings = load_settings(None)
    assert settings.serve.host == "127.0.0.1"
    assert settings.serve.metrics_token is None
    assert settings.security.fingerprint_key.get_secret_value() == ""


def test_metrics_bearer_token(database_url: str) -> None:
    done = threading.Event()

    def failing(_settings: Any, **_kwargs: Any) -> RunOutcome:
        raise RunFailed("pull failed: cannot reach the database (PostgreSQL at db.internal:5432/connector)")

    settings = Settings(**settings_values(database_url, None, serve={
        "host": "127.0.0.1", "port": 0, "shutdown_grace_seconds": 5, "metrics_token": "s3cret-token"}))
    service = SyncService(settings, runner=failing, on_run=lambda _s: done.set())
    service.start(run_now=True)
    try:
        assert done.wait(timeout=30)
        base = f"http://127.0.0.1:{service.port}"
        anonymous = httpx.get(f"{base}/metrics", timeout=10)
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        right = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer s3cret-token"}, timeout=10)
        healthz = httpx.get(f"{base}/healthz", timeout=10)
    finally:
        service.stop()
    assert (anonymous.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert 'connector_runs_total{status="failed"} 1.0' in right.text
    assert healthz.status_code == 503 and "db.internal" not in healthz.text and "5432" not in healthz.text
    assert set(healthz.json()) == {"status", "reason", "last_status", "last_success_at", "last_finished_at",
                                   "running"}


def test_bearer_ok() -> None:
    assert bearer_ok("Bearer tok", "tok") and bearer_ok("bearer tok", "tok")
    assert not bearer_ok(None, "tok") and not bearer_ok("Basic tok", "tok") and not bearer_ok("Bearer tok2", "tok")


def test_a_failed_statement_does_not_carry_its_bound_values(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT * FROM no_such_table WHERE id = :secret"), {"secret": "in_SECRET_4242"})
    finally:
        engine.dispose()
    assert "in_SECRET_4242" not in str(caught.value)
    assert "hidden due to hide_parameters" in str(caught.value)
