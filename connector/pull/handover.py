"""What a backfill leaves for the first sync: the positions that sync's own full read would save.

Why: a first sync finds no cursor and reads everything again (every Stripe object, every
PartnerStack record, every reward the backfill just pushed), although the backfill read the
same records minutes before. A backfill that provably read what that full read would read
saves the cursors the full read would have saved, so the first sync reads only what changed
since the backfill began plus the rewards the backfill pushed.

The rule (per stream; the Stripe streams share one event cursor): a backfill of `[since, until)`
writes a cursor only when
1. the stream has no cursor yet: a store that has synced keeps its incremental positions as
   they are (a backfill "re-pulls without moving the incremental cursors");
2. the window is open at the top: no `--until`, or an `until` at or after the run's as-of;
3. the API holds nothing created before `since` for that stream: one `limit=1` request with
   the created filter below `since` comes back empty.
Then the backfill read exactly what a first sync's full read would read, and the cursor it
leaves is the one that read leaves. Otherwise nothing is written and the first sync reads in
full, as before.
"""

from __future__ import annotations

from typing import Any

from adapters.partnerstack import PartnerStackClient, PartnerStackStream, to_epoch_ms
from adapters.partnerstack.streams import Position, TrailingCursor, UpdatedCursor
from adapters.stripe import STREAMS as STRIPE_STREAMS
from adapters.stripe import StripeClient
from adapters.stripe.streams import EventPosition, EventsCursor
from connector.context import RunContext
from connector.pull.context import PullContext
from connector.pull.pages import read_cursor


def open_at_the_top(ctx: RunContext) -> bool:
    """Does the backfill read up to its as-of (rule 2)?"""
    return ctx.is_backfill and (ctx.until is None or ctx.until >= ctx.as_of)


def partnerstack_may_hand_over(pull: PullContext, client: PartnerStackClient, stream: PartnerStackStream) -> bool:
    """Rules 1–3 for one PartnerStack stream (rule 3 costs one request, asked only after 1 and 2)."""
    ctx = pull.ctx
    if not open_at_the_top(ctx) or read_cursor(ctx, stream.key):
        return False
    if ctx.since is None:
        return True
    params = {"max_created": to_epoch_ms(ctx.since) - 1, "limit": 1}
    for older in client.iter_list(stream.path, params, counter=pull.stat(stream.key).counter):
        return not older  # the first page answers; the rest is never asked for
    return True


def stripe_may_hand_over(pull: PullContext, client: StripeClient, events_stream: str) -> bool:
    """Rules 1–3 for Stripe: no event cursor yet, and no stream holds an object created before `since`."""
    ctx = pull.ctx
    if not open_at_the_top(ctx) or read_cursor(ctx, events_stream):
        return False
    if ctx.since is None:
        return True
    since = int(ctx.since.timestamp())
    for stream in STRIPE_STREAMS:
        counter = pull.stat(stream.key).counter
        older, _ = client.list_page(stream.path, {"created[lt]": since, "limit": 1}, counter=counter)
        if older:
            return False
    return True


class PartnerStackHandover:
    """Follows a backfill's pages of one stream and builds the cursor a first sync's full read leaves.

    An `updated` stream: the newest `updated_at` read (that read's watermark). A trailing stream:
    the newest item of the first page as its head (lists come newest first), re-read at the as-of.
    """

    def __init__(self, stream: PartnerStackStream, as_of_ms: int) -> None:
        self.stream = stream
        self.as_of_ms = as_of_ms
        self.head: Position | None = None
        self.first_page = True
        self.max_updated: int | None = None

    def saw(self, page: list[Any], updated: list[int]) -> None:
        if self.first_page:
            self.head = Position.newest_of(page)
            self.first_page = False
        if updated:
            self.max_updated = max([self.max_updated or 0, *updated])

    def cursor(self) -> dict[str, Any]:
        if self.stream.strategy == "updated":
            return UpdatedCursor(self.max_updated, None).to_json()
        return TrailingCursor(head=self.head, reread_at=self.as_of_ms, step=None).to_json()


def stripe_events_cursor(newest: EventPosition | None, started: int) -> dict[str, Any]:
    """The event cursor a first sync's full read leaves: the newest event before the read, read at its start."""
    return EventsCursor(newest or EventPosition(None, started), read_at=started).to_json()


__all__ = [
    "PartnerStackHandover",
    "open_at_the_top",
    "partnerstack_may_hand_over",
    "stripe_events_cursor",
    "stripe_may_hand_over",
]
