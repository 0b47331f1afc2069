"""``*.created`` events for the objects a loaded world holds, within Stripe's 30-day event retention.

Why: a real account has one ``*.created`` event per object it created, and ``/v1/events`` keeps the
last 30 days of them; a world loaded from a scenario or a generator describes objects, not their
history, so the sandbox derives those events once, when the world is loaded (``State.__init__``
and ``StreamLoader.finish``). Events of later changes come from ``State.apply`` as before.

What Stripe would send and the sandbox cannot know: the object *as it was* when created (an
invoice is created as a draft, then finalized and paid, each with its own event). The sandbox has
only the loaded state, so ``data.object`` is the object as loaded, and no ``invoice.finalized`` /
``invoice.paid`` / ``*.updated`` events are made up for loaded objects.

Cost: only objects whose ``created`` lies in ``[now - 30 days, now]`` get an event; each collection
is sorted newest first with a bisectable array of creation times, so finding them reads nothing
else. In the current API version an event's served text is the object's already rendered text
inside the event's fixed keys, so it is assembled from the packed text of the object and packed
again (no parse, no render); in an older version (``--event-api-version``) the event goes through
the renderer, which rewrites the object.

Ids: ``evt_sbx_<seq>`` in creation order (ties: catalogue before customers before subscriptions
before invoices...), the same sequence ``apply`` continues, so ids grow with time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .collection import Collection, Entry, Range
from .events import _PREFIX
from .jsonutil import dumps
from .normalize_stripe import TYPES
from .versions import is_pre_basil

if TYPE_CHECKING:
    from .state import State

# Sections whose objects have a ``<prefix>.created`` event type, in the order of ties at one second.
# Invoice payments have none (only ``invoice_payment.paid``); charges are derived, and Stripe's charge
# events are ``charge.succeeded`` & co, not ``charge.created``.
SECTIONS: tuple[str, ...] = (
    "products", "prices", "customers", "subscriptions", "invoices", "refunds", "credit_notes", "disputes",
)
_REQUEST = '"request":{"id":null,"idempotency_key":null}'


def _in_window(collection: Collection, low: int, high: int, rank: int) -> Iterator[tuple[Any, int, str, Entry]]:
    """(created, rank, id, entry) oldest first, for entries with a string id created within [low, high]."""
    for entry in reversed(collection.window(Range(gte=low, lte=high))):
        if type(entry.ident) is str and type(entry.created) is int:
            yield entry.created, rank, entry.ident, entry


def emit_created_events(state: State) -> int:
    """Add the world's ``*.created`` events to ``state.stripe["events"]``; returns how many."""
    high = state.now_s
    low = state.event_cutoff()
    streams = [_in_window(state.stripe[name], low, high, rank) for rank, name in enumerate(SECTIONS)]
    ordered = list(heapq.merge(*streams, key=lambda item: (item[0], item[1], item[2])))
    if not ordered:
        return 0
    events = state.stripe["events"]
    version = state.event_api_version
    # The events list deflates every record against the first one it packs: make that one an event of
    # the most common kind (an invoice in a real world) rather than whatever came first in time.
    counts = [0] * len(SECTIONS)
    for item in ordered:
        counts[item[1]] += 1
    common = counts.index(max(counts))
    first = next(index for index, item in enumerate(ordered) if item[1] == common)
    seqs = {index: state.event_seq + 1 + index for index in range(len(ordered))}
    for index in (first, *(i for i in range(len(ordered)) if i != first)):
        created, rank, _, entry = ordered[index]
        event_type = f"{_PREFIX[TYPES[SECTIONS[rank]]]}.created"
        event_id = f"evt_sbx_{seqs[index]:010d}"
        if entry.packed is None or is_pre_basil(version):  # through the renderer (and ``versions.py``)
            events.add({"id": event_id, "object": "event", "api_version": version, "created": created,
                        "data": {"object": entry.obj}, "livemode": False, "pending_webhooks": 0,
                        "request": {"id": None, "idempotency_key": None}, "type": event_type},
                       trusted=entry.packed is not None)
            continue
        served, sparse = entry.texts()
        head = (f'{{"id":"{event_id}","object":"event","api_version":{dumps(version)},"created":{created},'
                '"data":{"object":')
        tail = f'}},"livemode":false,"pending_webhooks":0,{_REQUEST},"type":{dumps(event_type)}}}'
        events.add_entry(Entry.from_texts(events, event_id, created, head + served + tail, head + sparse + tail))
    state.event_seq += len(ordered)
    return len(ordered)
