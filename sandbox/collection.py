"""One list resource held in memory, newest first, paged in O(limit).

Why: the sandbox must serve a million invoices without being the bottleneck of a sync. Records are
kept sorted by (created desc, id desc) with an id -> position index for cursors, a bisectable list of
creation times for range filters and lazily built equality indexes for filters such as ``customer``.
Malformed records (no id, non-numeric created, unhashable ids) are served too: they sort after every
well-formed record and simply cannot be used as a cursor. When ids repeat, a cursor resolves to the
*last* record carrying it, so paging always moves forward and never loops.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .gcutil import paused_gc
from .timeutil import is_number
from .walk import get_path


class CursorNotFound(LookupError):
    """``starting_after`` / ``ending_before`` names no record of this list."""


@dataclass(frozen=True)
class Filter:
    """A record filter: ``test(value at path)``; ``eq`` set when it is plain equality (indexable)."""

    path: tuple[str, ...]
    test: Callable[[Any], bool]
    eq: Hashable | None = None

    @classmethod
    def equals(cls, path: tuple[str, ...], value: Hashable) -> Filter:
        """Equality on a dotted path; can use an index."""
        return cls(path, lambda v: _safe_eq(v, value), value)

    def matches(self, obj: Any) -> bool:
        """Whether a record passes (non-dict records never do)."""
        return isinstance(obj, dict) and self.test(get_path(obj, self.path))


def _safe_eq(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except Exception:
        return False


@dataclass(frozen=True)
class Range:
    """Bounds on the creation time (each optional), in the API's own unit."""

    gte: Any = None
    gt: Any = None
    lte: Any = None
    lt: Any = None

    def is_empty(self) -> bool:
        """No bound given."""
        return self.gte is None and self.gt is None and self.lte is None and self.lt is None


class Entry:
    """A stored record plus what paging needs, and its serialized form once rendered."""

    __slots__ = ("obj", "ident", "created", "numeric", "ser", "ser_gen")

    def __init__(self, obj: Any, id_field: str, created_field: str) -> None:
        self.obj = obj
        self.ident: Any = obj.get(id_field) if isinstance(obj, dict) else None
        self.created: Any = obj.get(created_field) if isinstance(obj, dict) else None
        self.numeric = is_number(self.created)
        self.ser: str | None = None
        self.ser_gen = -1

    def sort_key(self) -> tuple[bool, Any, bool, str]:
        """Newest first; well-formed before malformed; ties broken by id (descending)."""
        ident = self.ident
        if type(ident) is str:
            return (self.numeric, self.created if self.numeric else 0, True, ident)
        return (self.numeric, self.created if self.numeric else 0, False, repr(ident))


@dataclass
class Page:
    """One page of a list answer."""

    entries: list[Entry]
    has_more: bool


class Collection:
    """A sorted in-memory list resource."""

    def __init__(self, name: str, id_field: str, created_field: str) -> None:
        self.name = name
        self.id_field = id_field
        self.created_field = created_field
        self._entries: list[Entry] = []
        self._dirty = False
        self._pos: dict[Hashable, int] = {}
        self._neg_created: list[Any] = []
        self._indexes: dict[tuple[str, ...], dict[Hashable, list[int]]] = {}

    # ----- mutation -------------------------------------------------------------------------
    def replace_all(self, objs: Iterable[Any]) -> None:
        """Drop everything and hold ``objs``."""
        with paused_gc():
            self._entries = [Entry(o, self.id_field, self.created_field) for o in objs]
        self._dirty = True

    def add(self, obj: Any) -> None:
        """Append a new record (a duplicate id is kept as another record)."""
        self._entries.append(Entry(obj, self.id_field, self.created_field))
        self._dirty = True

    def replace(self, old: Any, new: Any) -> None:
        """Swap a stored record object (identified by identity) for ``new``."""
        ident = old.get(self.id_field) if isinstance(old, dict) else None
        position = self.position(ident)
        if position is not None and self._entries[position].obj is old:
            entry = Entry(new, self.id_field, self.created_field)
            if entry.sort_key() == self._entries[position].sort_key():
                # Same place in the order: no re-sort, only the value indexes go stale.
                self._entries[position] = entry
                self._indexes = {}
                return
            self._entries[position] = entry
            self._dirty = True
            return
        for index, entry in enumerate(self._entries):
            if entry.obj is old:
                self._entries[index] = Entry(new, self.id_field, self.created_field)
                self._dirty = True
                return
        self.add(new)

    # ----- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        """All entries, newest first."""
        self._refresh()
        return self._entries

    def all_with_id(self, ident: Any) -> list[Any]:
        """Every stored record whose id equals ``ident`` (duplicates included)."""
        if not _hashable(ident):
            return []
        self._refresh()
        return [e.obj for e in self._entries if e.ident == ident and type(e.ident) is type(ident)]

    def get(self, ident: Any) -> Any:
        """The record with this id (the last one when ids repeat), or ``None``."""
        position = self.position(ident)
        return None if position is None else self._entries[position].obj

    def position(self, ident: Any) -> int | None:
        """Index of the record with this id in newest-first order."""
        if not _hashable(ident):
            return None
        self._refresh()
        return self._pos.get(ident)

    def page(
        self,
        limit: int,
        starting_after: Any = None,
        ending_before: Any = None,
        created: Range | None = None,
        filters: list[Filter] | None = None,
    ) -> Page:
        """Up to ``limit`` records after/before a cursor, within a created range, passing filters."""
        self._refresh()
        filters = filters or []
        low, high = self._window(created)
        if ending_before is not None:
            cursor = self._cursor(ending_before)
            found = self._collect(self._candidates(filters, low, min(high, cursor), backwards=True), filters, limit)
            found.reverse()
        else:
            start = low if starting_after is None else max(low, self._cursor(starting_after) + 1)
            found = self._collect(self._candidates(filters, start, high, backwards=False), filters, limit)
        has_more = len(found) > limit
        if has_more:
            found = found[1:] if ending_before is not None else found[:limit]
        return Page(found, has_more)

    def last_page(self, limit: int) -> Page:
        """The final page of the unfiltered list (for the ``endless`` misbehaviour)."""
        self._refresh()
        return Page(self._entries[-limit:], True)

    # ----- internals ------------------------------------------------------------------------
    def _cursor(self, ident: Any) -> int:
        position = self.position(ident)
        if position is None:
            raise CursorNotFound(ident)
        return position

    def _window(self, created: Range | None) -> tuple[int, int]:
        if created is None or created.is_empty():
            return 0, len(self._entries)
        neg = self._neg_created
        low, high = 0, len(neg)
        if created.lte is not None:
            low = max(low, bisect.bisect_left(neg, -created.lte))
        if created.lt is not None:
            low = max(low, bisect.bisect_right(neg, -created.lt))
        if created.gte is not None:
            high = min(high, bisect.bisect_right(neg, -created.gte))
        if created.gt is not None:
            high = min(high, bisect.bisect_left(neg, -created.gt))
        return low, max(low, high)

    def _candidates(self, filters: list[Filter], start: int, end: int, backwards: bool) -> Iterator[int]:
        indexed = next((f for f in filters if f.eq is not None and _hashable(f.eq)), None)
        if indexed is None:
            return iter(range(end - 1, start - 1, -1) if backwards else range(start, end))
        positions = self._index(indexed.path).get(indexed.eq, [])  # type: ignore[arg-type]
        left = bisect.bisect_left(positions, start)
        right = bisect.bisect_left(positions, end)
        chosen = positions[left:right]
        return reversed(chosen) if backwards else iter(chosen)

    def _collect(self, positions: Iterator[int], filters: list[Filter], limit: int) -> list[Entry]:
        found: list[Entry] = []
        for position in positions:
            entry = self._entries[position]
            if all(f.matches(entry.obj) for f in filters):
                found.append(entry)
                if len(found) > limit:
                    break
        return found

    def _index(self, path: tuple[str, ...]) -> dict[Hashable, list[int]]:
        index = self._indexes.get(path)
        if index is None:
            index = {}
            for position, entry in enumerate(self._entries):
                value = get_path(entry.obj, path)
                if _hashable(value):
                    index.setdefault(value, []).append(position)
            self._indexes[path] = index
        return index

    def _refresh(self) -> None:
        if not self._dirty:
            return
        with paused_gc():
            self._rebuild()

    def _rebuild(self) -> None:
        self._entries.sort(key=Entry.sort_key, reverse=True)
        self._pos = {}
        for position, entry in enumerate(self._entries):
            if _hashable(entry.ident) and entry.ident is not None:
                self._pos[entry.ident] = position
        self._neg_created = []
        for entry in self._entries:
            if not entry.numeric:
                break
            self._neg_created.append(-entry.created)
        self._indexes = {}
        self._dirty = False


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
