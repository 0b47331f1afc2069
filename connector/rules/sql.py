"""Statement shapes that keep SQLite's prepared-statement cache small."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

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
