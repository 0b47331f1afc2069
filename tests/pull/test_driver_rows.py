"""SQLite: a page's rows go to the driver's executemany as tuples (`connector.store.driverrows`). The
store they leave must be the one SQLAlchemy's own executemany leaves, byte for byte, table by table."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import connector.store.writes as writes
from connector.context import RunContext
from connector.pull import pull
from connector.store.db import make_engine, session_factory
from connector.store.driverrows import driver_statement
from connector.store.models import Invoice
from sandbox.server import SandboxServer
from tests.conftest import fresh_database, on_postgres
from tests.pull.conftest import sandbox_settings
from tests.pull.scenarios import NOW, big

pytestmark = pytest.mark.skipif(on_postgres(), reason="the driver path is SQLite's (PostgreSQL pages use unnest)")


def _pull_twice(url: str, srv: SandboxServer) -> None:
    """A first read (inserts) and a second (every row conflicts, nothing changed)."""
    engine = make_engine(url)
    try:
        for _ in range(2):
            ctx = RunContext(settings=sandbox_settings(srv, url), engine=engine, sessions=session_factory(engine),
                             run_id=str(uuid.uuid4()), kind="sync", as_of=NOW)
            pull(ctx)
    finally:
        engine.dispose()


def _mirror(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every mirror table's rows as SQLite stores them (the text of times and JSON included)."""
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        mirror = [n for n in names if n.startswith(("st_", "ps_", "fin_"))]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in mirror}
    finally:
        conn.close()


def test_driver_rows_store_what_sqlalchemy_executemany_stores(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SandboxServer(big(partners=60, invoices=120)) as srv:
        _pull_twice(database_url, srv)  # the driver path
        assert any(built is not None and table.name == "st_invoices" for (table, _), built in writes._DRIVER.items())
        with fresh_database(tmp_path, "sqlalchemy") as other:
            monkeypatch.setattr(writes, "_driver_statement", lambda *_a: None)
            _pull_twice(other, srv)  # SQLAlchemy's executemany
            a, b = _mirror(database_url), _mirror(other)
    assert sum(len(rows) for rows in a.values()) > 500 and len(a["st_invoices"]) == 120
    assert a == b


def test_a_statement_that_needs_a_python_default_is_left_to_sqlalchemy(engine: Engine) -> None:
    """Rows without `tax` and `raw` (columns with Python-side defaults) are not built for the driver."""
    table = Invoice.__table__
    cols = tuple(sorted(c.name for c in table.c if c.name not in ("tax", "raw", "changed_seq")))
    stmt = writes._upsert_statement(table, "sqlite", cols, ("id",))  # type: ignore[arg-type]
    sqlite_dialect = make_engine("sqlite://").dialect
    assert driver_statement(stmt, cols, sqlite_dialect) is None
    full = tuple(sorted(c.name for c in table.c if c.name != "changed_seq"))
    built = driver_statement(writes._upsert_statement(table, "sqlite", full, ("id",)), full, sqlite_dialect)  # type: ignore[arg-type]
    assert built is not None and built.sql.count("?") == len(built.slots)
    assert {name for name, _, _ in built.slots if name is not None} == set(full)
