"""Fixtures for the pull tests: settings pointing at a sandbox, a run context, no real sleeping."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import adapters.http
from connector.config import Settings
from connector.context import RunContext, RunKind
from connector.store.db import session_factory
from tests.pull.scenarios import NOW


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(adapters.http, "sleep", slept.append)
    return slept


def sandbox_settings(srv: Any, database_url: str, **sections: Any) -> Settings:
    base: dict[str, Any] = {
        "database": {"url": database_url},
        "partnerstack": {"base_url": srv.partnerstack_url, "public_key": "pk", "secret_key": "sk"},
        "stripe": {"base_url": srv.stripe_url, "api_key": "sk_test_x", "concurrency": 3},
        "http": {"max_attempts": 12},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return Settings(**base)


MakeCtx = Callable[..., RunContext]


@pytest.fixture
def make_ctx(engine: Engine) -> MakeCtx:
    def make(settings: Settings, kind: RunKind = "sync", as_of: dt.datetime = NOW, **kw: Any) -> RunContext:
        return RunContext(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            run_id=str(uuid.uuid4()),
            kind=kind,
            as_of=as_of,
            **kw,
        )

    return make


@pytest.fixture
def costs_csv(tmp_path: Path) -> Callable[[dict[str, Any]], str]:
    from sandbox.costs import write_costs_csv

    def write(scenario: dict[str, Any]) -> str:
        path = tmp_path / f"costs-{uuid.uuid4().hex[:6]}.csv"
        write_costs_csv(scenario, path)
        return str(path)

    return write
