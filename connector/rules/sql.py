"""Statement shapes that keep SQLite's prepared-statement cache small, and a fast reader of UTC datetimes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Label, type_coerce
from sqlalchemy.engine import Dialect

from connector.models import UTCDateTime

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


class _ReadUTC(UTCDateTime):
    """`UTCDateTime` as the rules read it: the same aware UTC values, made by one function per value.

    A TypeDecorator's result processor calls the dialect's parser and then `process_result_value`
    through two more Python frames; a full pass reads some five datetimes per invoice and ledger
    entry (over 600,000 at M), where those frames were a tenth of the time.
    """

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], dt.datetime | None]:
        parse = self.impl_instance.result_processor(dialect, coltype)
        utc = dt.UTC
        if parse is None:
            return lambda value: None if value is None else value.replace(tzinfo=utc)
        convert = cast(Callable[[Any], dt.datetime], parse)  # the dialect's parser of a non-NULL value
        return lambda value: None if value is None else convert(value).replace(tzinfo=utc)


_READ_UTC = _ReadUTC()


def read_as(column: ColumnElement[Any], key: str) -> Label[Any]:
    """`column` labelled `key`, its datetimes read through `_ReadUTC`."""
    if isinstance(column.type, UTCDateTime):
        return type_coerce(column, _READ_UTC).label(key)
    return column.label(key)
