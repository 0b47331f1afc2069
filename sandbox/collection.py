"""One list resource held in memory, newest first, paged in O(limit).

Why: the sandbox must serve a million invoices without being the bottleneck of a sync. Records are
stored packed (``packing.py``: the served JSON text rendered once, deflated) and kept sorted by
(created desc, id desc) with an id -> position index for cursors, a bisectable array of creation
times for range filters and lazily built equality indexes for filters such as ``customer``.
Malformed records (no id, non-numeric created, unhashable ids) are served too: they sort after every
well-formed record and simply cannot be used as a cursor. When ids repeat, a cursor resolves to the
*last* record carrying it, so paging always moves forward and never loops.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .gcutil import paused_gc
from .jsonutil import dumps
from .packing import Packer, json_exact
from .timeutil import is_number
from .walk import get_path

_NOT_A_DICT = object()  # an Entry's hot value when the record is not an object
_UNPARSED = object()


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
    """A stored record (packed when it round-trips through JSON) plus what paging needs.

    ``obj`` parses the record back on every access (a fresh copy); ``served`` is its JSON text as the
    API sends it in a list, rendered once when stored. Records whose rendering depends on other
    records (a subscription embeds its prices) are re-rendered when ``State.generation`` moves.
    """

    __slots__ = ("packed", "loose", "owner", "ident", "created", "hot", "gen")

    def __init__(self, obj: Any, owner: Collection, trusted: bool = False) -> None:
        self.owner = owner
        is_dict = isinstance(obj, dict)
        self.ident: Any = obj.get(owner.id_field) if is_dict else None
        self.created: Any = obj.get(owner.created_field) if is_dict else None
        self.hot: Any = (obj.get(owner.hot_field) if is_dict else _NOT_A_DICT) if owner.hot_field else None
        self.gen = owner.generation()
        self.packed: bytes | None = None
        self.loose: Any = obj
        if trusted or json_exact(obj):
            try:
                self.packed = owner.pack(obj)
            except (TypeError, ValueError, RecursionError):
                return  # not serializable as given: kept, and rendered on each request as before
            self.loose = None

    @property
    def obj(self) -> Any:
        """The stored record (a fresh copy when packed)."""
        return self.loose if self.packed is None else self.owner.packer.record(self.packed)

    @classmethod
    def from_texts(cls, owner: Collection, ident: Any, created: Any, served: str, sparse: str) -> Entry:
        """An entry packed straight from its texts (the caller vouches they are its record's)."""
        entry = cls.__new__(cls)
        entry.owner = owner
        entry.ident = ident
        entry.created = created
        entry.hot = None
        entry.gen = owner.generation()
        entry.packed = owner.packer.pack(served, sparse)
        entry.loose = None
        return entry

    def texts(self) -> tuple[str, str]:
        """(served JSON text, the stored record's own JSON text)."""
        if self.packed is None:
            return self.owner.render(self.loose), dumps(self.loose)
        if self.owner.dependent and self.gen != self.owner.generation():
            self.served()  # re-render first
        assert self.packed is not None
        return self.owner.packer.texts(self.packed)

    def served(self) -> str:
        """The record's JSON text in a list page."""
        owner = self.owner
        if self.packed is None:
            return owner.render(self.loose)
        if owner.dependent and self.gen != owner.generation():
            self.packed = owner.pack(owner.packer.record(self.packed))
            self.gen = owner.generation()
        return owner.packer.served(self.packed)

    def sort_key(self) -> tuple[bool, Any, bool, str]:
        """Newest first; well-formed before malformed; ties broken by id (descending)."""
        ident, numeric = self.ident, is_number(self.created)
        if type(ident) is str:
            return (numeric, self.created if numeric else 0, True, ident)
        return (numeric, self.created if numeric else 0, False, repr(ident))


@dataclass
class Page:
    """One page of a list answer."""

    entries: list[Entry]
    has_more: bool


class Collection:
    """A sorted in-memory list resource.

    ``render`` turns a record into the JSON text a list page carries (default: the record as it is);
    ``dependent`` says that text also depends on other records, so it is redone when ``generation()``
    (the state's change counter) moves. ``hot_field`` is a top-level field kept beside each packed
    record so that a filter on it (PartnerStack's ``min_updated``, which may pass over most of a list)
    does not parse every record it skips.
    """

    def __init__(
        self,
        name: str,
        id_field: str,
        created_field: str,
        render: Callable[[Any], str] | None = None,
        dependent: bool = False,
        generation: Callable[[], int] | None = None,
        hot_field: str | None = None,
    ) -> None:
        self.name = name
        self.hot_field = hot_field
        self._hot_path = (hot_field,) if hot_field else None
        self.id_field = id_field
        self.created_field = created_field
        self.render: Callable[[Any], str] = render or dumps
        self.dependent = dependent
        self.generation: Callable[[], int] = generation or (lambda: 0)
        self.packer = Packer()
        self._entries: list[Entry] = []
        self._dirty = False
        self._pos: dict[Hashable, int] = {}
        self._neg_created: Sequence[Any] = []
        self._indexes: dict[tuple[str, ...], dict[Hashable, list[int]]] = {}
        # id -> entries carrying it, in the order they were stored; built on first use and kept up
        # to date by add/replace, so merging a change into a million records neither scans nor re-sorts.
        self._ids: dict[Hashable, list[Entry]] | None = None
        # replacements made while the list awaits a re-sort: id(stored entry) -> its successor,
        # swapped in by that re-sort instead of each one re-sorting (or scanning) the list first
        self._pending: dict[int, Entry] = {}

    def pack(self, obj: Any) -> bytes:
        """The packed form of a record: its served text and its own text (encoded once when they agree)."""
        sparse = dumps(obj)
        return self.packer.pack(sparse if self.render is dumps else self.render(obj), sparse)

    # ----- mutation -------------------------------------------------------------------------
    def replace_all(self, objs: Iterable[Any], trusted: bool = False) -> None:
        """Drop everything and hold ``objs`` (``trusted``: known to round-trip through JSON)."""
        with paused_gc():
            self._entries = [Entry(o, self, trusted) for o in objs]
        self._dirty = True
        self._ids = None
        self._pending = {}

    def add(self, obj: Any, trusted: bool = False) -> None:
        """Append a new record (a duplicate id is kept as another record)."""
        self.add_entry(Entry(obj, self, trusted))

    def add_entry(self, entry: Entry) -> None:
        """Append an entry built for this collection (``Entry.from_texts``)."""
        self._entries.append(entry)
        self._dirty = True
        self._id_added(entry)

    def replace(self, old: Entry, new: Any) -> None:
        """Swap a stored entry (identified by identity) for the record ``new``."""
        entry = Entry(new, self)
        self._id_replaced(old, entry)
        if self._dirty:
            self._pending[id(old)] = entry
            return
        position = self.position(old.ident)
        if position is not None and self._entries[position] is old:
            if entry.sort_key() == old.sort_key():
                # Same place in the order: no re-sort, only the value indexes go stale.
                self._entries[position] = entry
                self._indexes = {}
                return
            self._entries[position] = entry
            self._dirty = True
            return
        for index, candidate in enumerate(self._entries):
            if candidate is old:
                self._entries[index] = entry
                self._dirty = True
                return
        self._entries.append(entry)
        self._dirty = True

    # ----- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        """All entries, newest first."""
        self._refresh()
        return self._entries

    def all_with_id(self, ident: Any) -> list[Entry]:
        """Every stored entry whose id equals ``ident`` (duplicates included), newest first."""
        if not _hashable(ident):
            return []
        found = [e for e in self._id_map().get(ident, ()) if type(e.ident) is type(ident)]
        if len(found) > 1:  # rare (a duplicate id): the list's own order, which needs it sorted
            self._refresh()
            found = [e for e in self._entries if e.ident == ident and type(e.ident) is type(ident)]
        return found

    def get(self, ident: Any) -> Any:
        """The record with this id (the last one when ids repeat), or ``None``."""
        position = self.position(ident)
        return None if position is None else self._entries[position].obj

    def first_where(self, path: tuple[str, ...], value: Hashable) -> Any:
        """The newest record whose value at ``path`` equals ``value``, or ``None`` (indexed, not a scan)."""
        self._refresh()
        for position in self._index(path).get(value, []):
            obj = self._entries[position].obj
            if _safe_eq(get_path(obj, path), value):
                return obj
        return None

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

    def window(self, created: Range) -> list[Entry]:
        """Every entry whose (numeric) ``created`` is within ``created``, newest first."""
        self._refresh()
        low, high = self._window(created)
        return self._entries[low:high]

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
        positions = self._index(indexed.path).get(indexed.eq, [])
        left = bisect.bisect_left(positions, start)
        right = bisect.bisect_left(positions, end)
        chosen = positions[left:right]
        return reversed(chosen) if backwards else iter(chosen)

    def _collect(self, positions: Iterator[int], filters: list[Filter], limit: int) -> list[Entry]:
        found: list[Entry] = []
        for position in positions:
            entry = self._entries[position]
            if filters and not self._passes(entry, filters):
                continue
            found.append(entry)
            if len(found) > limit:
                break
        return found

    def _passes(self, entry: Entry, filters: list[Filter]) -> bool:
        obj: Any = _UNPARSED  # parsed at most once, and only when a filter needs more than the hot field
        for f in filters:
            if f.path == self._hot_path:
                if entry.hot is _NOT_A_DICT or not f.test(entry.hot):
                    return False
                continue
            if obj is _UNPARSED:
                obj = entry.obj
            if not f.matches(obj):
                return False
        return True

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

    def _id_map(self) -> dict[Hashable, list[Entry]]:
        if self._ids is None:
            if self._pending:
                self._refresh()  # swap the pending replacements in first
            ids: dict[Hashable, list[Entry]] = {}
            for entry in self._entries:
                if _hashable(entry.ident):
                    ids.setdefault(entry.ident, []).append(entry)
            self._ids = ids
        return self._ids

    def _id_added(self, entry: Entry) -> None:
        if self._ids is not None and _hashable(entry.ident):
            self._ids.setdefault(entry.ident, []).append(entry)

    def _id_replaced(self, old: Entry, new: Entry) -> None:
        if self._ids is None:
            return
        if _hashable(old.ident):
            same = self._ids.get(old.ident, [])
            for index, candidate in enumerate(same):
                if candidate is old:
                    if _hashable(new.ident) and new.ident == old.ident and type(new.ident) is type(old.ident):
                        same[index] = new  # keeps its place among duplicates
                        return
                    del same[index]
                    break
        self._id_added(new)

    def _refresh(self) -> None:
        if not self._dirty:
            return
        with paused_gc():
            self._rebuild()

    def _rebuild(self) -> None:
        if self._pending:
            pending = self._pending

            def latest(entry: Entry) -> Entry:
                while (successor := pending.get(id(entry))) is not None:
                    entry = successor
                return entry

            self._entries = [latest(e) for e in self._entries]
            self._pending = {}
        self._entries.sort(key=Entry.sort_key, reverse=True)
        self._pos = {}
        for position, entry in enumerate(self._entries):
            if _hashable(entry.ident) and entry.ident is not None:
                self._pos[entry.ident] = position
        negated: list[Any] = []
        for entry in self._entries:
            if not is_number(entry.created):
                break
            negated.append(-entry.created)
        self._neg_created = _compact(negated)
        self._indexes = {}
        self._dirty = False


def _compact(numbers: list[Any]) -> Sequence[Any]:
    """Whole-number times as a machine array (8 bytes each instead of ~36); anything else as a list."""
    try:
        return array("q", numbers) if all(type(n) is int for n in numbers) else numbers
    except OverflowError:
        return numbers


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
