"""Stripe streams: a backfill or first run reads `created` windows, later runs read the event log.

The first run records the newest event, then reads every stream in `created` windows
(`windows`); later runs apply `/v1/events` since the saved event, oldest first (`events`).
A saved event older than Stripe's retention falls back to re-reading windows, and says so
in `ctx.notes`.
"""

from __future__ import annotations

import datetime as dt

from adapters.stripe import EVENTS_STREAM, STREAMS, EventsCursor, StripeClient, to_epoch_s
from adapters.stripe.streams import EventPosition, FullRead
from connector.pull.context import PullContext
from connector.pull.events import apply_events
from connector.pull.pages import read_cursor, transaction
from connector.pull.windows import WindowRead
from connector.store.writes import save_cursor


class StripePull:
    def __init__(self, pull: PullContext, client: StripeClient) -> None:
        self.pull = pull
        self.ctx = pull.ctx
        self.client = client

    def backfill(self) -> None:
        """`[since, until)` by created time; no cursor is read or moved."""
        since = to_epoch_s(self.ctx.since) if self.ctx.since is not None else 0
        until = to_epoch_s(self.ctx.until) if self.ctx.until is not None else None
        self._read_windows(since, until, epoch=None)

    def sync(self) -> None:
        events_stats = self.pull.stat(EVENTS_STREAM)
        cursor = EventsCursor.from_json(read_cursor(self.ctx, EVENTS_STREAM))
        full = cursor.full
        if full is None:
            newest = self.client.newest_event(counter=events_stats.counter)
            newest_at = EventPosition(newest.get("id"), newest.get("created")) if newest else None
            if cursor.position is not None and not self._expired(cursor.position, newest_at):
                apply_events(self.pull, self.client, cursor.position)
                self.pull.finish(EVENTS_STREAM)
                return
            full = self._begin_full_read(cursor.position, newest_at)
        self._read_windows(full.since, None, epoch=full.epoch)
        pending = full.pending or EventPosition(None, to_epoch_s(self.ctx.as_of))
        with transaction(self.ctx) as session:
            save_cursor(session, EVENTS_STREAM, EventsCursor(pending).to_json())
        self.pull.finish(EVENTS_STREAM)

    def _read_windows(self, since: int | None, until: int | None, epoch: str | None) -> None:
        for stream in STREAMS:
            WindowRead(self.pull, self.client, stream, since, until, epoch).run()
            self.pull.finish(stream.key)

    def _begin_full_read(self, position: EventPosition | None, newest: EventPosition | None) -> FullRead:
        """Record the newest event before reading, so nothing changed during the read is missed."""
        since: int | None = None
        if position is not None:  # past retention: re-read from a day before the saved event
            retention = self.ctx.settings.stripe.event_retention_days
            since = (position.created or 0) - 86_400
            day = dt.datetime.fromtimestamp(since, dt.UTC).date().isoformat()
            self.ctx.notes.append(
                f"stripe: saved event position older than {retention}-day retention; re-read windows since {day}"
            )
        full = FullRead(self.ctx.run_id, newest, since)
        with transaction(self.ctx) as session:
            save_cursor(session, EVENTS_STREAM, EventsCursor(position, full).to_json())
        return full

    def _expired(self, position: EventPosition, newest: EventPosition | None) -> bool:
        """Is the saved event gone from Stripe's retention (and has anything happened since)?"""
        if newest is None or newest.id == position.id:
            return False
        retention = self.ctx.settings.stripe.event_retention_days * 86_400
        now = max(to_epoch_s(self.ctx.as_of), newest.created or 0)
        return (position.created or 0) < now - retention
