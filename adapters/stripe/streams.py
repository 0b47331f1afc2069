"""Every Stripe stream, declared once, and the cursors of the two ways they are read.

A first run (or one whose saved event is past retention) reads each stream in `created`
windows (`WindowsCursor`, one per stream, tied to the read's `epoch`); later runs read
`/v1/events` since the saved event (`EventsCursor`) and route each event's object to the
stream whose `event_object` it is. Lists are `{"object": "list", "data": [...], "has_more"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from adapters.streams import CURSOR_VERSION, Stream, as_int, as_str, cursor_version, versioned

# The events cursor's layout: 2 adds `read_at` (the last complete read of the log).
EVENTS_CURSOR_VERSION = 2

# What Stripe embeds only in part, completed from a sub-list before the object is mapped.
Embedded = Literal["invoice_lines", "subscription_items"]


@dataclass(frozen=True)
class StripeStream(Stream):
    source: ClassVar[str] = "stripe"
    path: str  # the list endpoint under /v1
    event_object: str  # the `object` of an event's `data.object` that carries this stream's records
    # filters the list needs to return everything (Stripe hides canceled subscriptions otherwise)
    list_filters: Mapping[str, Any] = field(default_factory=dict, hash=False)
    embedded: Embedded | None = None
    # Statuses after which a record can still change (empty: the stream has no lifecycle the pull
    # tracks). A read that missed events re-reads every stored record in one of them.
    open_statuses: frozenset[str] = frozenset()
    # Whether the list takes `status=<one of open_statuses>` (Stripe's invoices, subscriptions,
    # invoice payments do; disputes, refunds and credit notes do not).
    status_filter: bool = False
    # Whether a record can change at any time with no status saying so (metadata, e-mail) and the
    # lists have no `updated` filter: a read that missed events reads the whole list again, not
    # only what was created since (products' category and unit cost feed the rules, prices' product
    # and amounts, customers' e-mail the deal conversion and their name the report).
    changes_without_status: bool = False
    # Whether the list takes `ids[]` (Stripe documents it on products only; invoices, credit notes,
    # refunds, disputes, subscriptions, customers, prices and invoice payments filter by a parent or
    # `created`, never by id): objects wanted by id are then listed a page of ids at a time.
    ids_filter: bool = False


STREAMS: tuple[StripeStream, ...] = (
    StripeStream("products", "products", "product", changes_without_status=True, ids_filter=True),
    StripeStream("prices", "prices", "price", changes_without_status=True),
    StripeStream("customers", "customers", "customer", changes_without_status=True),
    StripeStream(
        "subscriptions", "subscriptions", "subscription", {"status": "all"}, "subscription_items",
        frozenset({"active", "trialing", "past_due", "unpaid", "incomplete", "paused"}), status_filter=True,
    ),
    StripeStream(
        "invoices", "invoices", "invoice", embedded="invoice_lines",
        open_statuses=frozenset({"draft", "open", "uncollectible"}), status_filter=True,
    ),
    # an issued credit note can still be voided
    StripeStream("credit_notes", "credit_notes", "credit_note", open_statuses=frozenset({"issued"})),
    # a succeeded refund can still fail (Stripe's `failure_balance_transaction` "reverses the initial
    # balance transaction"; docs.stripe.com/refunds#failed-refunds), which gives the clawback back
    StripeStream(
        "refunds", "refunds", "refund", open_statuses=frozenset({"pending", "requires_action", "succeeded"}),
    ),
    StripeStream(
        "disputes", "disputes", "dispute",
        open_statuses=frozenset({"warning_needs_response", "warning_under_review", "needs_response", "under_review"}),
    ),
    StripeStream(
        "invoice_payments", "invoice_payments", "invoice_payment", open_statuses=frozenset({"open"}),
        status_filter=True,
    ),
)

EVENTS_PATH = "events"
EVENTS_STREAM = "stripe.events"  # the event log's cursor and statistics


# ---------------------------------------------------------------- `created` windows


@dataclass(frozen=True)
class WindowProgress:
    """One window: `"done"`, or `{"after": id}` (the last object written, to resume after)."""

    after: str | None = None
    done: bool = False

    def to_json(self) -> Any:
        return "done" if self.done else {"after": self.after}

    @classmethod
    def from_json(cls, raw: Any) -> WindowProgress:
        if raw == "done":
            return cls(done=True)
        return cls(after=as_str(raw.get("after"))) if isinstance(raw, dict) else cls()


@dataclass(frozen=True)
class HeadPage:
    """The first page of the whole range is written; `bound` is where the windows below it start
    (None: that page was all there is)."""

    bound: int | None


@dataclass(frozen=True)
class WindowsCursor:
    """`{"epoch": id, "windows": {"head": {"bound": s}, "<lo>:<hi>": progress, ...}}`.

    A cursor of another `epoch` belongs to an earlier read and is ignored.
    """

    epoch: str | None
    head: HeadPage | None = None  # None: the head page is not read yet
    windows: Mapping[str, WindowProgress] = field(default_factory=dict)
    version: int = CURSOR_VERSION

    def to_json(self) -> dict[str, Any]:
        windows: dict[str, Any] = {} if self.head is None else {"head": {"bound": self.head.bound}}
        windows.update({label: progress.to_json() for label, progress in self.windows.items()})
        return versioned({"epoch": self.epoch, "windows": windows}, self.version)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], stream: str = "stripe") -> WindowsCursor:
        cursor_version(raw, stream)
        saved = raw.get("windows")
        saved = saved if isinstance(saved, dict) else {}
        head = saved.get("head")
        return cls(
            epoch=as_str(raw.get("epoch")),
            head=HeadPage(as_int(head.get("bound"))) if isinstance(head, dict) else None,
            windows={label: WindowProgress.from_json(p) for label, p in saved.items() if label != "head"},
        )


# ---------------------------------------------------------------- the event log


@dataclass(frozen=True)
class EventPosition:
    """An event (id and created second): the last one applied, or the newest when a full read began."""

    id: str | None
    created: int | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created}

    @classmethod
    def from_json(cls, raw: Any) -> EventPosition | None:
        return cls(as_str(raw.get("id")), as_int(raw.get("created"))) if isinstance(raw, dict) else None


@dataclass(frozen=True)
class FullRead:
    """A windows read in progress: its `epoch`, the event to continue from after it, since when it
    reads, and (version 2) when it began (epoch seconds: the `read_at` it leaves behind)."""

    epoch: str
    pending: EventPosition | None
    since: int | None
    started: int | None = None

    def to_json(self) -> dict[str, Any]:
        pending = self.pending.to_json() if self.pending is not None else None
        body: dict[str, Any] = {"epoch": self.epoch, "pending": pending, "since": self.since}
        if self.started is not None:
            body["started"] = self.started
        return body

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FullRead:
        return cls(
            str(raw.get("epoch")),
            EventPosition.from_json(raw.get("pending")),
            as_int(raw.get("since")),
            as_int(raw.get("started")),
        )


@dataclass(frozen=True)
class EventsCursor:
    """`{"version": 2, "position": event, "read_at": s}` between runs; with `"full": {...}` while a
    windows read is under way.

    `position` is the last event applied; `read_at` (epoch seconds, version 2) is when the log was
    last read to its end, so a quiet account (no event for weeks) still knows its read is recent.
    Version 1 (no `version` key, no `read_at`) reads as a read at the position's event.
    """

    position: EventPosition | None = None
    full: FullRead | None = None
    read_at: int | None = None
    version: int = EVENTS_CURSOR_VERSION

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"position": self.position.to_json() if self.position is not None else None}
        if self.version >= 2:
            body["read_at"] = self.read_at
        if self.full is not None:
            body["full"] = self.full.to_json()
        return versioned(body, self.version)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], stream: str = EVENTS_STREAM) -> EventsCursor:
        version = cursor_version(raw, stream, EVENTS_CURSOR_VERSION)
        full = raw.get("full")
        position = EventPosition.from_json(raw.get("position"))
        read_at = as_int(raw.get("read_at")) if version >= 2 else None
        return cls(position, FullRead.from_json(full) if isinstance(full, dict) else None, read_at, version)

    @property
    def last_read(self) -> int | None:
        """Since when no event can have been missed: the later of `read_at` and the position's event
        (version 1 has only the latter)."""
        times = [t for t in (self.read_at, self.position.created if self.position else None) if t is not None]
        return max(times) if times else None


__all__ = [
    "EVENTS_CURSOR_VERSION",
    "EVENTS_PATH",
    "EVENTS_STREAM",
    "STREAMS",
    "Embedded",
    "EventPosition",
    "EventsCursor",
    "FullRead",
    "HeadPage",
    "StripeStream",
    "WindowProgress",
    "WindowsCursor",
]
