"""Every PartnerStack stream, declared once, and the cursors its two read strategies keep.

Lists come newest first, in the envelope `{"data": {"items": [...], "has_more": bool}}`
(see `client`). Streams with an update filter are read in `min_updated` windows
(`UpdatedCursor`); rewards and transactions have none and are read by what is newer than
the newest record already read, re-reading a trailing window when due (`TrailingCursor`).
The cursors read every layout ever stored in `sync_cursors` and write the current one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from adapters.streams import CURSOR_VERSION, Stream, as_int, as_str, cursor_version, versioned

Strategy = Literal["updated", "trailing"]


@dataclass(frozen=True)
class PartnerStackStream(Stream):
    source: ClassVar[str] = "partnerstack"
    path: str  # the list endpoint
    strategy: Strategy  # "updated": `min_updated` windows; "trailing": no update filter


STREAMS: tuple[PartnerStackStream, ...] = (
    PartnerStackStream("groups", "groups", "updated"),
    PartnerStackStream("partnerships", "partnerships", "updated"),
    PartnerStackStream("customers", "customers", "updated"),
    PartnerStackStream("leads", "leads", "updated"),
    PartnerStackStream("deals", "deals", "updated"),
    PartnerStackStream("rewards", "rewards", "trailing"),
    PartnerStackStream("transactions", "transactions", "trailing"),
)


def item_key(item: Any) -> str | None:
    """An item's key as a paging cursor (None for a malformed item)."""
    key = item.get("key") if isinstance(item, dict) else None
    return str(key) if isinstance(key, str | int) and not isinstance(key, bool) else None


# ---------------------------------------------------------------- `min_updated` windows


@dataclass(frozen=True)
class UpdatedWindow:
    """The window being paged: its filter, the last key written, the newest update seen in it."""

    min_updated: int | None
    after: str | None
    max_seen: int | None

    def to_json(self) -> dict[str, Any]:
        return {"min_updated": self.min_updated, "after": self.after, "max_seen": self.max_seen}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> UpdatedWindow:
        return cls(as_int(raw.get("min_updated")), as_str(raw.get("after")), as_int(raw.get("max_seen")))

    def after_page(self, last_key: str | None, updated: Sequence[int]) -> UpdatedWindow:
        max_seen = max([self.max_seen or 0, *updated]) if updated else self.max_seen
        return UpdatedWindow(self.min_updated, last_key if last_key is not None else self.after, max_seen)


@dataclass(frozen=True)
class UpdatedCursor:
    """`{"watermark": ms, "window": {...} | null}`: the watermark moves only once a window is paged to the end."""

    watermark: int | None = None
    window: UpdatedWindow | None = None
    version: int = CURSOR_VERSION

    def to_json(self) -> dict[str, Any]:
        window = self.window.to_json() if self.window is not None else None
        return versioned({"watermark": self.watermark, "window": window}, self.version)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], stream: str = "partnerstack") -> UpdatedCursor:
        cursor_version(raw, stream)
        window = raw.get("window")
        return cls(as_int(raw.get("watermark")), UpdatedWindow.from_json(window) if isinstance(window, dict) else None)

    def next_window(self, overlap_ms: int) -> UpdatedWindow:
        """The window to read: the saved one, else `min_updated ≥ watermark − overlap`."""
        if self.window is not None:
            return self.window
        since = self.watermark - overlap_ms if self.watermark is not None else None
        return UpdatedWindow(since, None, self.watermark)


# ---------------------------------------------------------------- trailing reads


@dataclass(frozen=True)
class Position:
    """Key and created time of a newest-first page's newest usable item: where the next read starts."""

    key: str
    created: int | None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "created": self.created}

    @classmethod
    def from_json(cls, raw: Any) -> Position | None:
        key = item_key(raw)
        return cls(key, as_int(raw.get("created"))) if key is not None else None

    @classmethod
    def newest_of(cls, page: Sequence[Any]) -> Position | None:
        for item in page:
            key = item_key(item)
            if key is not None:
                return cls(key, as_int(item.get("created_at")))
        return None


PassKind = Literal["window", "new", "overlap"]


@dataclass(frozen=True)
class TrailingPass:
    """The read in progress, saved with every page.

    `window`: everything created since `min_created` (all of it the first time), started at
    `started`; `new`: what is newer than the item keyed `cursor`; `overlap`: the created range
    `[min_created, max_created]` just before the head, for items written late.
    """

    kind: PassKind
    cursor: str | None = None
    newest: Position | None = None
    min_created: int | None = None
    max_created: int | None = None
    started: int | None = None  # None: a pass of the older layout; the run that finishes it stamps it

    def to_json(self) -> dict[str, Any]:
        newest = self.newest.to_json() if self.newest is not None else None
        if self.kind == "new":
            return {"kind": "new", "cursor": self.cursor, "newest": newest}
        if self.kind == "overlap":
            return {"kind": "overlap", "min_created": self.min_created, "max_created": self.max_created,
                    "cursor": self.cursor, "newest": newest}  # fmt: skip
        return {"kind": "window", "min_created": self.min_created, "cursor": self.cursor, "newest": newest,
                "started": self.started}  # fmt: skip

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TrailingPass:
        kind = raw.get("kind")
        if kind not in ("window", "new", "overlap"):  # the older layout: {"min_created", "after"}, a window
            return cls("window", cursor=as_str(raw.get("after")), min_created=as_int(raw.get("min_created")))
        return cls(
            kind,
            cursor=as_str(raw.get("cursor")),
            newest=Position.from_json(raw.get("newest")),
            min_created=as_int(raw.get("min_created")),
            max_created=as_int(raw.get("max_created")),
            started=as_int(raw.get("started")),
        )

    def after_page(self, page: Sequence[Any]) -> TrailingPass:
        """The pass once `page` is written: a `new` read moves towards newer items, the others older."""
        newest = Position.newest_of(page)
        if self.kind == "new":  # each page is newer than the one before
            cursor = (item_key(page[0]) if page else None) or self.cursor
            return dataclasses.replace(self, newest=newest or self.newest, cursor=cursor)
        cursor = (item_key(page[-1]) if page else None) or self.cursor
        first = newest if self.kind == "window" and self.newest is None else self.newest
        return dataclasses.replace(self, newest=first, cursor=cursor)


@dataclass(frozen=True)
class TrailingCursor:
    """`{"head": position, "reread_at": ms, "pass": {...} | null}`; `head` and `reread_at` move only at a pass's end.

    The older layout, `{"full_read": bool, "pass": {"min_created", "after"} | null}`, reads as
    no head, never re-read, a full read done (`full_read`), and its pass as a window pass.
    """

    head: Position | None = None
    reread_at: int | None = None
    step: TrailingPass | None = None
    full_read: bool = False  # the older layout's "the window was read once" (not written back)
    version: int = CURSOR_VERSION

    @property
    def read_before(self) -> bool:
        return self.reread_at is not None or self.full_read

    def to_json(self) -> dict[str, Any]:
        head = self.head.to_json() if self.head is not None else None
        step = self.step.to_json() if self.step is not None else None
        return versioned({"head": head, "reread_at": self.reread_at, "pass": step}, self.version)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], stream: str = "partnerstack") -> TrailingCursor:
        cursor_version(raw, stream)
        head = raw.get("head")
        step = raw.get("pass")
        return cls(
            head=Position.from_json(head) if isinstance(head, dict) else None,
            reread_at=as_int(raw.get("reread_at")),
            step=TrailingPass.from_json(step) if isinstance(step, dict) else None,
            full_read=bool(raw.get("full_read")),
        )


__all__ = [
    "STREAMS",
    "PartnerStackStream",
    "PassKind",
    "Position",
    "Strategy",
    "TrailingCursor",
    "TrailingPass",
    "UpdatedCursor",
    "UpdatedWindow",
    "item_key",
]
