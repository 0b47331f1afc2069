"""SQLite: a page's upsert handed to the driver's `executemany` as ready parameter tuples.

Why: SQLAlchemy's `executemany` builds every row's parameters one row at a time (a dict of
bound values per row, each value through its type's processor, then a tuple in the statement's
order); for the M pull that was ~8 of the writer's ~40 CPU seconds, about as much as SQLite's own
work inserting the rows. Here the statement is compiled once per column set, and a group's
values go through each column's processor a column at a time, then straight to
`sqlite3.Cursor.executemany`.

Same meaning as `session.execute(statement, rows)`: the same compiled SQL (compiled for exactly
the columns the rows carry, as SQLAlchemy compiles it for them), each value through the same
processor SQLAlchemy would use (`TypeEngine.bind_processor` of the column's type for this dialect,
called for None too, as SQLAlchemy does: a JSON column's None is JSON `null`), and the statement's
own constants (the change clock's row id) bound as SQLAlchemy binds them. A statement that would
need a column default computed in Python (a row without such a column) is not handled here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from sqlalchemy.engine import Dialect

__all__ = ["DriverStatement", "driver_statement"]

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class DriverStatement:
    """The SQL for the driver, and how to build each row's parameter tuple."""

    sql: str
    slots: tuple[tuple[str | None, Processor, Any], ...]  # per placeholder: column, its processor; or a constant

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in placeholder order, processed a column at a time."""
        columns: list[Any] = []
        for name, process, constant in self.slots:
            if name is None:
                columns.append(repeat(constant, len(rows)))
                continue
            values = [row[name] for row in rows]
            columns.append([process(v) for v in values] if process is not None else values)
        return list(zip(*columns, strict=False))


def driver_statement(statement: Any, cols: Sequence[str], dialect: Dialect) -> DriverStatement | None:
    """`statement` compiled for rows carrying `cols`, or None when the driver path does not apply
    (not a positional dialect, a Python-side default to compute, or a placeholder it cannot name)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(cols))
    if not compiled.positional or compiled.insert_prefetch or compiled.update_prefetch:
        return None
    slots: list[tuple[str | None, Processor, Any]] = []
    for name in compiled.positiontup or ():
        bind = compiled.binds.get(name)
        if bind is None:
            return None
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in cols:
            slots.append((name, process, None))
        elif not bind.required and bind.callable is None and not bind.expanding:
            value = bind.value
            slots.append((None, None, process(value) if process is not None else value))
        else:
            return None
    return DriverStatement(compiled.string, tuple(slots))
