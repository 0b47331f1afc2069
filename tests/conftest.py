"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

`CONNECTOR_TEST_DATABASE_URL` (set by `.ci/run` for its second pass) switches every
database test to PostgreSQL; each test then gets a schema of its own, dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from connector.store.db import make_engine, upgrade

PG_ENV = "CONNECTOR_TEST_DATABASE_URL"
# There is no default fingerprint key (see `connector.config.require_fingerprint_key`): every test
# process runs with this one, and `child_env` hands it to the connector processes tests start.
FINGERPRINT_ENV = "CONNECTOR_SECURITY__FINGERPRINT_KEY"
TEST_FINGERPRINT_KEY = "test-only-fingerprint-key-0123456789"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _fingerprint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets a fingerprint key unless it removes it (`monkeypatch.delenv`)."""
    monkeypatch.setenv(FINGERPRINT_ENV, TEST_FINGERPRINT_KEY)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a connector process a test starts: none of the caller's `CONNECTOR_`
    settings, except the test fingerprint key; plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env[FINGERPRINT_ENV] = TEST_FINGERPRINT_KEY
    env.update(extra)
    return env


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def on_postgres() -> bool:
    return pg_base_url() is not None


@contextmanager
def fresh_database(tmp_path: Path, name: str = "connector") -> Iterator[str]:
    """A URL to a fresh, migrated database on the configured backend, removed afterwards."""
    base = pg_base_url()
    if base is None:
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A URL to a fresh, migrated database that the connector (and its CLI) can open."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, run only the tests that touch a database."""
    if not on_postgres():
        return
    keep = [i for i in items if "database_url" in getattr(i, "fixturenames", ())]
    kept = {id(i) for i in keep}
    dropped = [i for i in items if id(i) not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
