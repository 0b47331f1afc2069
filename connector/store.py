"""Writes into the store that both SQLite and PostgreSQL accept.

Upserts are keyed by the table's primary key (the upstream source id), so reading a
record twice never duplicates it. Callers pass the session of the transaction that
also saves the cursor, which is what makes a page and its cursor land together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session

from connector.models import Quarantine, SyncCursor


def upsert_rows(session: Session, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update `rows` by primary key; later rows with the same key win.

    One statement per column set, executed with many parameter sets: SQLAlchemy caches
    its compiled form and batches the rows itself ("insertmanyvalues"), where building a
    multi-row VALUES per page meant compiling a new statement for every page.
    """
    if not rows:
        return 0
    table = model.__table__
    assert isinstance(table, Table)
    pk = [c.name for c in table.primary_key.columns]
    dedup: dict[Any, dict[str, Any]]
    if len(pk) == 1:
        key = pk[0]
        dedup = {row[key]: row for row in rows}
    else:
        dedup = {tuple(row[k] for k in pk): row for row in rows}
    by_order: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in dedup.values():  # rows of one mapping share their key order: no sort per row
        by_order.setdefault(tuple(row), []).append(row)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for order, group in by_order.items():
        by_columns.setdefault(tuple(sorted(order)), []).extend(group)
    dialect = session.get_bind().dialect.name
    for cols, group in by_columns.items():
        session.execute(_upsert_statement(table, dialect, cols, tuple(pk)), group)
    return len(dedup)


# (table, dialect, columns) → its upsert: building one (and its cache key) per page cost as much
# as executing a small page. Statements are immutable, so sharing them is safe.
_STATEMENTS: dict[tuple[Table, str, tuple[str, ...]], Any] = {}


def _upsert_statement(table: Table, dialect: str, cols: tuple[str, ...], pk: tuple[str, ...]) -> Any:
    stmt = _STATEMENTS.get((table, dialect, cols))
    if stmt is None:
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        update = {c: insert.excluded[c] for c in cols if c not in pk}
        stmt = (
            insert.on_conflict_do_update(index_elements=list(pk), set_=update)
            if update
            else insert.on_conflict_do_nothing()
        )
        _STATEMENTS[(table, dialect, cols)] = stmt
    return stmt


def load_cursor(session: Session, stream: str) -> dict[str, Any]:
    row = session.get(SyncCursor, stream)
    return dict(row.state) if row is not None else {}


def save_cursor(session: Session, stream: str, state: dict[str, Any]) -> None:
    upsert_rows(session, SyncCursor, [{"stream": stream, "state": state, "updated_at": dt.datetime.now(dt.UTC)}])


def all_cursors(session: Session) -> dict[str, dict[str, Any]]:
    return {c.stream: dict(c.state) for c in session.scalars(select(SyncCursor))}


def quarantine(
    session: Session,
    *,
    run_id: str | None,
    source: str,
    source_id: str | None,
    error: str,
    payload: dict[str, Any] | None = None,
) -> None:
    """Keep a record that failed validation, with why; `payload` must already be redacted."""
    session.add(
        Quarantine(
            run_id=run_id,
            source=source,
            source_id=source_id,
            error=error[:2000],
            payload=payload,
            created_at=dt.datetime.now(dt.UTC),
        )
    )
