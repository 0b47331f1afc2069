"""PostgreSQL: a page's upsert as one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT` statement.

Why: `executemany` sends one statement per row (pipelined, but each row still costs psycopg a
parameter dump, a prepared-statement lookup and a round of the pipeline, and the server an
executor start); a pull page of 100–250 rows spent more CPU there than in everything else it
does (the S pull's cProfile: 8.2 s of 12.2 s in `upsert_rows`). Passing each column as one array
makes a page one statement whatever its size.

Same meaning as the per-row form: the same columns, the same `ON CONFLICT … DO UPDATE … WHERE`
(built by the caller from the same clauses), the change clock's tick read by the statement, and
values bound through each column's own type first (`UTCDateTime` to naive UTC, JSON serialized
by the engine's serializer), then carried in an array of the column's base type. Strings travel
as `text[]` and are assigned to the column by PostgreSQL's assignment cast, so a value too long
for a `VARCHAR(n)` is refused exactly as a row insert refuses it, never cut by an explicit cast.
The caller passes rows whose primary keys are distinct (PostgreSQL refuses one statement that
updates a row twice).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Column, Table, column, text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.sqltypes import String

__all__ = ["driver_sql", "unnest_params", "unnest_select"]


def _array_type(col: Column[Any], dialect: Dialect) -> str:
    """The SQL array type a column's values travel in: `text[]` for any string, else its base type."""
    if isinstance(col.type, String) and not isinstance(col.type, JSON):
        return "TEXT[]"
    return f"{col.type.compile(dialect=dialect)}[]"


def unnest_select(table: Table, cols: Sequence[str], dialect: Dialect, extra: Sequence[tuple[str, str]] = ()) -> Any:
    """`SELECT u.c0, u.c1, …[, extra SQL] FROM unnest(CAST(:c0 AS t0[]), …) AS u(c0, c1, …)` for `cols`
    of `table` (and `extra` (name, SQL) pairs after them); bind each `:cN` to the list of that column's
    processed values (see `unnest_params`)."""
    arrays = ", ".join(f"CAST(:c{i} AS {_array_type(table.c[name], dialect)})" for i, name in enumerate(cols))
    names = ", ".join(f"c{i}" for i in range(len(cols)))
    picks = [f"u.c{i}" for i in range(len(cols))] + [sql for _, sql in extra]
    source = text(f"SELECT {', '.join(picks)} FROM unnest({arrays}) AS u({names})")
    return source.columns(*[column(name) for name in [*cols, *(n for n, _ in extra)]])


def unnest_params(
    table: Table, cols: Sequence[str], rows: Sequence[dict[str, Any]], dialect: Dialect
) -> dict[str, Any]:
    """Each column's values, in row order, through the column type's bind processing (called for
    None too, as SQLAlchemy does: a JSON column's None is JSON `null`, not SQL NULL)."""
    params: dict[str, Any] = {}
    for i, name in enumerate(cols):
        process = table.c[name].type._cached_bind_processor(dialect)
        values = [row[name] for row in rows]
        params[f"c{i}"] = [process(v) for v in values] if process else values
    return params


def driver_sql(statement: Any, cols: Sequence[str], dialect: Dialect) -> str:
    """The statement as psycopg's SQL, each array placeholder in binary format (`%(cN)b`).

    Why binary: psycopg's text format quotes every array element through a regular expression
    substitution, which for the JSON payloads cost more than the row-by-row statements saved; in
    binary an element is its length and bytes."""
    sql = str(statement.compile(dialect=dialect))
    named = set(re.findall(r"%\((\w+)\)s", sql))
    if named != {f"c{i}" for i in range(len(cols))}:  # a default or literal bound by SQLAlchemy
        raise ValueError(f"unexpected parameters in the unnest upsert: {sorted(named)}")
    for i in range(len(cols)):
        sql = sql.replace(f"%(c{i})s", f"%(c{i})b")
    return sql
