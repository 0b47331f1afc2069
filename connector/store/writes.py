"""Writes into the store that both SQLite and PostgreSQL accept.

Upserts are keyed by the table's primary key (the upstream source id), so reading a
record twice never duplicates it. Callers pass the session of the transaction that
also saves the cursor, which is what makes a page and its cursor land together.

On the mirror tables the rules read (those with a `changed_seq` column) an upsert is
also change tracking: a new row, or one whose content differs, is stamped with the
change clock's current tick; an identical re-read is not written at all. Incremental
compute then recomputes only the customers that stamped rows name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, Text, cast, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session

from connector.store.driverrows import DriverStatement, driver_statement
from connector.store.models import ChangeClock, Quarantine, SyncCursor
from connector.store.planner import note_rows_written
from connector.store.unnest import driver_sql, unnest_params, unnest_select


def upsert_rows(session: Session, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update `rows` by primary key; later rows with the same key win.

    One statement per column set, executed with many parameter sets (building a multi-row
    VALUES per page meant compiling a new statement for every page). On SQLite the rows' values
    go to the driver's executemany as tuples (`connector.store.driverrows`); on PostgreSQL a group
    is one statement over column arrays (`connector.store.unnest`).

    A change-tracked table's conflicting row is updated only when a column differs (so
    `changed_seq` means "content changed", and an unchanged re-read costs no write).

    A table these writes grow is analyzed as it grows (PostgreSQL; see `connector.store.planner`),
    so the next page's statements on it are planned with its indexes.
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
    dialect = session.get_bind().dialect
    for cols, group in by_columns.items():
        if dialect.name == "postgresql" and len(group) > 1 and _unnest_fits(table, cols):
            sql = _unnest_statement(table, dialect, cols, tuple(pk))
            session.connection().exec_driver_sql(sql, unnest_params(table, cols, group, dialect))
            continue
        driver = None
        if dialect.name == "sqlite" and len(group) > 1:
            driver = _driver_statement(table, dialect, cols, tuple(pk))
        if driver is not None:
            session.connection().exec_driver_sql(driver.sql, driver.parameters(group))
        else:
            session.execute(_upsert_statement(table, dialect.name, cols, tuple(pk)), group)
    note_rows_written(session, table, len(dedup))
    return len(dedup)


# (table, dialect, columns) → its upsert: building one (and its cache key) per page cost as much
# as executing a small page. Statements are immutable, so sharing them is safe.
_STATEMENTS: dict[tuple[Table, str, tuple[str, ...]], Any] = {}


def _upsert_statement(table: Table, dialect: str, cols: tuple[str, ...], pk: tuple[str, ...]) -> Any:
    stmt = _STATEMENTS.get((table, dialect, cols))
    if stmt is None:
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        if "changed_seq" in table.c:
            insert = insert.values(changed_seq=_current_tick())
        stmt = _on_conflict(table, insert, cols, pk)
        _STATEMENTS[(table, dialect, cols)] = stmt
    return stmt


_DRIVER: dict[tuple[Table, tuple[str, ...]], DriverStatement | None] = {}


def _driver_statement(
    table: Table, dialect: Dialect, cols: tuple[str, ...], pk: tuple[str, ...]
) -> DriverStatement | None:
    """SQLite: the same upsert with its rows' parameters built for the driver (`connector.store.driverrows`),
    or None where that does not apply (then SQLAlchemy's own executemany runs it)."""
    key = (table, cols)
    if key not in _DRIVER:
        _DRIVER[key] = driver_statement(_upsert_statement(table, dialect.name, cols, pk), cols, dialect)
    return _DRIVER[key]


def _unnest_fits(table: Table, cols: tuple[str, ...]) -> bool:
    """The one-statement form applies no Python-side column default (`default=0`, `default=dict`),
    so rows missing such a column, or naming the change clock's own column, take the per-row form."""
    if "changed_seq" in cols:
        return False
    return all(c.name in cols or c.default is None for c in table.c if c.name != "changed_seq")


def _unnest_statement(table: Table, dialect: Dialect, cols: tuple[str, ...], pk: tuple[str, ...]) -> Any:
    """PostgreSQL: the same upsert for a whole group of rows as one statement over column arrays
    (`connector.store.unnest`), with the same conflict clause as the per-row form."""
    stmt = _STATEMENTS.get((table, "postgresql-unnest", cols))
    if stmt is None:
        extra: list[tuple[str, str]] = []
        if "changed_seq" in table.c:
            tick = _current_tick().compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            extra.append(("changed_seq", str(tick)))
        source = unnest_select(table, cols, dialect, extra)
        names = [*cols, *(name for name, _ in extra)]
        stmt = _on_conflict(table, postgresql.insert(table).from_select(names, source), cols, pk)
        stmt = driver_sql(stmt, cols, dialect)
        _STATEMENTS[(table, "postgresql-unnest", cols)] = stmt
    return stmt


def _on_conflict(table: Table, insert: Any, cols: tuple[str, ...], pk: tuple[str, ...]) -> Any:
    """Update every non-key column; a change-tracked row only when its content differs, then restamped."""
    update: dict[str, Any] = {c: insert.excluded[c] for c in cols if c not in pk}
    if "changed_seq" in table.c:
        where = _differs(table, insert.excluded, [c for c in update if c != "changed_seq"])
        update["changed_seq"] = insert.excluded.changed_seq
        return insert.on_conflict_do_update(index_elements=list(pk), set_=update, where=where)
    if update:
        return insert.on_conflict_do_update(index_elements=list(pk), set_=update)
    return insert.on_conflict_do_nothing()


def _current_tick() -> Any:
    """The change clock's tick, read by the statement itself (no round trip). A store whose clock row
    was deleted stamps the clock's first tick, 1; compute then finds the clock missing and runs full."""
    return func.coalesce(select(ChangeClock.seq).where(ChangeClock.id == 1).scalar_subquery(), 1)


def _differs(table: Table, excluded: Any, columns: list[str]) -> ColumnElement[bool]:
    """Any of `columns` differs between the stored row and the proposed one, NULL-safe.

    JSON is compared as its text: PostgreSQL's `json` has no equality, and the connector
    writes JSON with sorted keys, so equal payloads give equal text.
    """
    terms: list[ColumnElement[bool]] = []
    for name in columns:
        stored, proposed = table.c[name], excluded[name]
        if isinstance(stored.type, JSON):
            terms.append(cast(stored, Text).is_distinct_from(cast(proposed, Text)))
        else:
            terms.append(stored.is_distinct_from(proposed))
    return or_(false(), *terms)


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
    reason: str | None = None,
    customer_id: str | None = None,
    partner_key: str | None = None,
    seq: Any = None,
) -> None:
    """Keep a record that failed validation, with why; `payload` must already be redacted.

    Stamped with the change clock (or `seq`), so the next incremental compute sees the hold it puts
    on `customer_id` or `partner_key` (see `connector.rules.reads.holds`).
    """
    session.add(
        Quarantine(
            run_id=run_id,
            source=source,
            source_id=source_id,
            error=error[:2000],
            payload=payload,
            created_at=dt.datetime.now(dt.UTC),
            reason=reason,
            customer_id=customer_id[:255] if customer_id else None,
            partner_key=partner_key[:255] if partner_key else None,
            changed_seq=_current_tick() if seq is None else seq,
            attempts=0,
        )
    )


def resolve_quarantined(
    session: Session, run_id: str | None, *where: ColumnElement[bool], seq: Any = None
) -> int:
    """Mark the unresolved quarantine rows matching `where` resolved, stamped with the change clock
    (or `seq`) so the next compute lifts the holds they put (`connector.rules.reads.holds`)."""
    stamp = _current_tick() if seq is None else seq
    stmt = (
        update(Quarantine)
        .where(Quarantine.resolved_at.is_(None), *where)
        .values(resolved_at=dt.datetime.now(dt.UTC), resolved_run_id=run_id, changed_seq=stamp)
    )
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)
