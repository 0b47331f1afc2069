"""Fixtures for the run layer: the Consio worked example served by the sandbox, settings for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import adapters.http
from connector.config import Settings
from sandbox.server import SandboxServer

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
CONSIO_EXAMPLE = SCENARIOS / "consio-example.json"
AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)  # the scenario's `now`
EXPECTED_AMOUNTS = [-10000, 20000, 20000]  # sorted: in_A1, in_A2 at 20 %, re_A2 clawback


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen, waits do not."""
    monkeypatch.setattr(adapters.http, "sleep", lambda _s: None)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(CONSIO_EXAMPLE) as server:
        yield server


def settings_values(database_url: str, server: SandboxServer | None, **sections: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "database": {"url": database_url},
        "partnerstack": {"public_key": "pk", "secret_key": "sk"},
        "stripe": {"api_key": "sk_test_run"},
        "program": {"file": "programs/consio.toml"},
        "http": {"max_attempts": 3},
    }
    if server is not None:
        values["partnerstack"]["base_url"] = server.partnerstack_url
        values["stripe"]["base_url"] = server.stripe_url
    for name, section in sections.items():
        values.setdefault(name, {}).update(section)
    return values


def make_settings(database_url: str, server: SandboxServer | None, **sections: dict[str, Any]) -> Settings:
    return Settings(**settings_values(database_url, server, **sections))


def write_config(path: Path, values: dict[str, Any]) -> Path:
    """A TOML config file with these values (strings, numbers, bools only)."""
    lines: list[str] = []
    for section, items in values.items():
        lines.append(f"[{section}]")
        for key, value in items.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value}")
            else:
                escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'{key} = "{escaped}"')
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
