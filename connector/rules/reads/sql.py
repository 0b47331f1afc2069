"""Statement shapes that keep SQLite's prepared-statement cache small, and a fast reader of UTC datetimes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Label, type_coerce
from sqlalchemy.engine import Dialect

from connector.store.models import UTCDateTime

T = TypeVar("T")


def padded(values: Sequence[T]) -> list[T]:
    """`values` lengthened to the next power of two by repeating the last (a repeat changes no IN (...)).

    SQLite keeps each distinct statement text prepared in its connection's cache; an IN list of
    every possible length made each compute batch's statements new ones (some 50 MB of
    prepared statements at M). With lengths in powers of two a handful of texts serve every batch.
    """
    if not values:
        return []
    size = 1 << (len(values) - 1).bit_length()
    return [*values, *([values[-1]] * (size - len(values)))]


IN_LIST = 4_096  # values per IN (...) list: well inside SQLite's and PostgreSQL's bound-parameter limits


def in_lists(values: Sequence[T]) -> Iterator[list[T]]:
    """`values` as IN (...) lists of at most `IN_LIST`, each `padded` (none for no values)."""
    for i in range(0, len(values), IN_LIST):
        yield padded(values[i : i + IN_LIST])


class _ReadUTC(UTCDateTime):
    """`UTCDateTime` as the rules read it: the same aware UTC values, each distinct stored value parsed once.

    A TypeDecorator's result processor calls the dialect's parser and then `process_result_value`
    through two more Python frames; a full pass reads some five datetimes per invoice and open
    ledger entry (over 400,000 at M). Stored times repeat (billing runs at the same times, dates
    at midnight), so the processor is a memo's own lookup: a value seen before costs one dict
    lookup in C, no Python frame at all; a new one is parsed as before.
    """

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], dt.datetime | None]:
        parse = self.impl_instance.result_processor(dialect, coltype)
        return _ParsedUTC(cast(Callable[[Any], dt.datetime] | None, parse)).__getitem__


class _ParsedUTC(dict[Any, dt.datetime | None]):
    """Stored value -> aware UTC datetime (None -> None); emptied when it reaches `_MEMO_SIZE` values,
    so a store whose times never repeat costs a bounded few MB."""

    def __init__(self, parse: Callable[[Any], dt.datetime] | None) -> None:
        super().__init__({None: None})
        self._parse = parse  # the dialect's parser of a non-NULL value (None: the driver returns datetimes)

    def __missing__(self, value: Any) -> dt.datetime:
        if len(self) >= _MEMO_SIZE:
            self.clear()
            self[None] = None
        parsed = (value if self._parse is None else self._parse(value)).replace(tzinfo=dt.UTC)
        self[value] = parsed
        return parsed


_MEMO_SIZE = 1 << 15


_READ_UTC = _ReadUTC()


def read_as(column: ColumnElement[Any], key: str) -> Label[Any]:
    """`column` labelled `key`, its datetimes read through `_ReadUTC`."""
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, _READ_UTC).label(key)
    return column.label(key)
