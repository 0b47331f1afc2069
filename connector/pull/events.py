"""Applying Stripe's event log: each event's object is the latest state of a record of some stream."""

from __future__ import annotations

from typing import Any

from adapters.stripe import EVENTS_STREAM, STREAMS, StripeClient, StripeStream
from adapters.stripe.streams import EventPosition, EventsCursor
from connector.pull.context import PullContext
from connector.pull.pages import transaction
from connector.store.writes import save_cursor

EVENT_CHUNK = 500  # events applied (and the position saved) per transaction

# the `object` of an event's data.object → the stream it updates
EVENT_OBJECT_STREAMS: dict[str, StripeStream] = {s.event_object: s for s in STREAMS}


def apply_events(pull: PullContext, client: StripeClient, position: EventPosition) -> None:
    """Apply events after `position`, oldest first, in chunks that each move the position."""
    events_stats = pull.stat(EVENTS_STREAM)
    events = client.events_since(position.created or 0, counter=events_stats.counter)
    ids = [e.get("id") for e in events]
    if position.id in ids:
        events = events[ids.index(position.id) + 1 :]
    events_stats.pulled += len(events)
    events_stats.pages += 1
    for start in range(0, len(events), EVENT_CHUNK):
        chunk = events[start : start + EVENT_CHUNK]
        completed: dict[str, Any] = {}  # fetched before the transaction: it holds no lock while waiting
        for kind, objects in _latest_objects(chunk).items():
            stream = EVENT_OBJECT_STREAMS[kind]
            counter = pull.stat(stream.key).counter
            completed[stream.key] = client.complete(stream, list(objects.values()), counter=counter)
        last = chunk[-1]
        with transaction(pull.ctx) as session:
            for key, objects in completed.items():
                pull.writer.write(session, key, objects, pull.stat(key))
            moved = EventsCursor(EventPosition(last.get("id"), last.get("created")))
            save_cursor(session, EVENTS_STREAM, moved.to_json())
    for stream in STREAMS:
        pull.finish(stream.key)


def _latest_objects(chunk: list[Any]) -> dict[str, dict[str, Any]]:
    """Objects by id per event object kind, in first-seen order; the latest state of an object wins."""
    by_kind: dict[str, dict[str, Any]] = {}
    for event in chunk:
        obj = (event.get("data") or {}).get("object") if isinstance(event, dict) else None
        if not isinstance(obj, dict) or obj.get("deleted"):
            continue
        kind = str(obj.get("object"))
        if kind not in EVENT_OBJECT_STREAMS:
            continue
        objects = by_kind.setdefault(kind, {})
        objects.pop(str(obj.get("id")), None)
        objects[str(obj.get("id"))] = obj
    return by_kind
