"""A condition that must not become the access path: rows found by key are checked, not searched.

Why: the connector never analyzes a SQLite store, and without statistics SQLite's planner guesses
that an equality on any indexed column selects about ten rows, however many it does. A statement
that takes a batch of entries by key and re-checks their status (`entry_key IN (…) AND status =
'payable'`) was planned as a walk of `ix_ledger_entries_status` over every entry with that status,
each row's key tested against the list: the push's `sending` mark of a 500-entry batch walked the
whole remaining outbox, so its cost grew with the outbox (at L, 790,314 entries, it took 260 s of a
906 s push, 0.16 s a batch, where M's batches cost a tenth of that).

`not_indexed(column)` renders SQLite's documented way of keeping a term from being used by an index,
a unary `+` ("Disqualifying WHERE clause terms using unary-+",
https://www.sqlite.org/optoverview.html), so the statement is planned on its key list. Elsewhere it
renders the column as it is: PostgreSQL plans from statistics the connector keeps current
(`connector.store.planner`) and has no unary `+` for text.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnExpressionArgument
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

__all__ = ["not_indexed"]

_T = TypeVar("_T")


class _NotIndexed(ColumnElement[_T]):
    """The column, compared as itself, never searched through an index on SQLite."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[_T]) -> None:
        self.column = column
        self.type = column.type


def not_indexed(column: ColumnExpressionArgument[_T]) -> ColumnElement[_T]:
    """`column` in a condition that filters rows found another way (by their key), not a way to find them."""
    return _NotIndexed(coercions.expect(roles.ExpressionElementRole, column))


@compiles(_NotIndexed)
def _as_is(element: _NotIndexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(_NotIndexed, "sqlite")
def _unary_plus(element: _NotIndexed[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + compiler.process(element.column, **kw)
