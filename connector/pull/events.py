"""Applying Stripe's event log: each event's object is the latest state of a record of some stream.

Stripe renders an event's `data.object` in the API version the account had when the event was
created, whatever `Stripe-Version` the list request sends. An event in another version than the
pinned one (`stripe.api_version`) is therefore not mapped: its object is fetched again, in the
pinned version, once per object id per chunk of events (the latest state wins anyway): one GET per
object, or a list request per page of ids where the list takes `ids[]` (products only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.http import ConnectorHttpError, RecordNotFound, RequestCounter
from adapters.stripe import EVENTS_STREAM, STREAMS, StripeClient, StripeStream
from adapters.stripe.streams import EventPosition, EventsCursor
from connector.pull.context import PullContext
from connector.pull.pages import transaction
from connector.pull.parking import Parked, complete_or_park, unfixable
from connector.store.writes import save_cursor

EVENT_CHUNK = 500  # events applied (and the position saved) per transaction

# the `object` of an event's data.object → the stream it updates
EVENT_OBJECT_STREAMS: dict[str, StripeStream] = {s.event_object: s for s in STREAMS}

# An object whose latest event in a chunk is in another API version: fetched again by id.
_REFETCH = object()


@dataclass
class EventsApplied:
    """What one pass over the log did: events applied, objects fetched again, foreign versions seen."""

    events: int = 0
    refetched: int = 0
    gone: int = 0
    parked: int = 0  # objects a retry cannot fix, quarantined (`connector.pull.parking`)
    versions: set[str] | None = None


def apply_events(
    pull: PullContext, client: StripeClient, cursor: EventsCursor, read_at: int
) -> EventsApplied:
    """Apply every retained event after the cursor's position, oldest first, in chunks that each
    move the position; once the log is read to its end, the cursor records `read_at` (the run's
    start) as the last complete read, even when there was no event at all."""
    events_stats = pull.stat(EVENTS_STREAM)
    position = cursor.position
    since = (position.created if position is not None else None) or cursor.last_read or 0
    events = client.events_since(since, counter=events_stats.counter)
    ids = [e.get("id") for e in events]
    if position is not None and position.id in ids:
        events = events[ids.index(position.id) + 1 :]
    events_stats.pulled += len(events)
    events_stats.pages += 1
    pinned = pull.ctx.settings.stripe.api_version
    done = EventsApplied(events=len(events), versions=set())
    for start in range(0, len(events), EVENT_CHUNK):
        chunk = events[start : start + EVENT_CHUNK]
        completed: dict[str, Any] = {}  # fetched before the transaction: it holds no lock while waiting
        parked: dict[str, list[Parked]] = {}  # a retry cannot fix them: quarantined, the log moves on
        for kind, objects in _latest_objects(chunk, pinned, done).items():
            stream = EVENT_OBJECT_STREAMS[kind]
            counter = pull.stat(stream.key).counter
            current = _refetched(client, stream, objects, done, parked.setdefault(stream.key, []), counter)
            completed[stream.key], poison = complete_or_park(client, stream, current, counter)
            parked[stream.key].extend(poison)
        last = chunk[-1]
        position = EventPosition(last.get("id"), last.get("created"))
        with transaction(pull.ctx) as session:
            for key, objects in completed.items():
                pull.writer.write(session, key, objects, pull.stat(key))
            for key, poison in parked.items():
                pull.writer.park(session, key, poison, pull.stat(key))
                done.parked += len(poison)
            # not yet read to the end: the last complete read stays what it was
            moved = EventsCursor(position, read_at=cursor.read_at)
            save_cursor(session, EVENTS_STREAM, moved.to_json())
    with transaction(pull.ctx) as session:
        save_cursor(session, EVENTS_STREAM, EventsCursor(position, read_at=read_at).to_json())
    for stream in STREAMS:
        pull.finish(stream.key)
    return done


def _refetched(
    client: StripeClient,
    stream: StripeStream,
    objects: dict[str, Any],
    done: EventsApplied,
    parked: list[Parked],
    counter: RequestCounter,
) -> list[Any]:
    """The chunk's objects of one stream, those marked `_REFETCH` fetched in the pinned version (one
    whose body stays unusable is parked with its id), in the chunk's order; the requests count in
    the stream's own statistics, where the run report shows them."""
    wanted = [object_id for object_id, obj in objects.items() if obj is _REFETCH]
    fetched, gone = _fetch_by_ids(client, stream, wanted, parked, counter) if wanted else ({}, 0)
    done.refetched += len(wanted)
    done.gone += gone
    out: list[Any] = []
    for object_id, obj in objects.items():
        if obj is not _REFETCH:
            out.append(obj)
        elif object_id in fetched:
            out.append(fetched[object_id])
    return out


def _fetch_by_ids(
    client: StripeClient, stream: StripeStream, wanted: list[str], parked: list[Parked], counter: RequestCounter
) -> tuple[dict[str, Any], int]:
    """The wanted objects that exist, by id, and how many no longer do (deleted since: a draft
    invoice). Where the list takes `ids[]` (products) a page of ids is one request; every other
    list filters only by a parent or by `created`, which can return any number of other objects,
    so each object is one GET (README, "How it works": pull)."""
    if stream.ids_filter:
        try:
            found = client.list_by_ids(stream.path, wanted, counter=counter)
            return found, sum(1 for object_id in wanted if object_id not in found)
        except ConnectorHttpError as exc:
            if unfixable(exc) is None:
                raise
            # a page that stays unusable: one GET each finds (and parks) the poison
    found = {}
    gone = 0
    for object_id in wanted:
        try:
            found[object_id] = client.retrieve(stream.path, object_id, counter=counter)
        except RecordNotFound:
            gone += 1
        except ConnectorHttpError as exc:
            if (reason := unfixable(exc)) is None:
                raise
            parked.append(Parked({"id": object_id, "object": stream.event_object}, reason, str(exc)))
    return found, gone


def _latest_objects(chunk: list[Any], pinned: str, done: EventsApplied) -> dict[str, dict[str, Any]]:
    """Objects by id per event object kind, in first-seen order; the latest state of an object wins.

    An object whose latest event is in another API version than `pinned` is `_REFETCH`.
    """
    by_kind: dict[str, dict[str, Any]] = {}
    for event in chunk:
        obj = (event.get("data") or {}).get("object") if isinstance(event, dict) else None
        if not isinstance(obj, dict) or obj.get("deleted"):
            continue
        kind = str(obj.get("object"))
        if kind not in EVENT_OBJECT_STREAMS:
            continue
        object_id = str(obj.get("id"))
        version = event.get("api_version")
        objects = by_kind.setdefault(kind, {})
        objects.pop(object_id, None)
        if version == pinned or not isinstance(obj.get("id"), str):  # no id: mapped (and quarantined) as is
            objects[object_id] = obj
        else:
            objects[object_id] = _REFETCH
            if done.versions is not None:
                done.versions.add(str(version))
    return by_kind
