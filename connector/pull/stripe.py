"""Stripe streams: a backfill or first run reads `created` windows, later runs read the event log.

The first run records the newest event, then reads every stream in `created` windows
(`windows`); later runs apply `/v1/events` since the saved event, oldest first (`events`).

The events cursor records the last *complete read* of the log (`read_at`), not only the last
event: an account with no event for weeks is still read within retention. When the last complete
read is older than Stripe's retention, events may be lost, so the pull falls back to re-reading
everything that can still have changed: each stream's objects created since that read (windows),
every stored record not yet final (`reread`), and the whole list of the streams whose records
change with no status saying so (`changes_without_status`: products, prices, customers; Stripe's
lists have no `updated` filter), then resumes from the events. `ctx.notes` says which path ran and why.
"""

from __future__ import annotations

import datetime as dt

from adapters.stripe import EVENTS_STREAM, STREAMS, EventsCursor, StripeClient, to_epoch_s
from adapters.stripe.streams import EventPosition, FullRead
from connector.pull.context import PullContext
from connector.pull.events import apply_events
from connector.pull.handover import stripe_events_cursor, stripe_may_hand_over
from connector.pull.pages import read_cursor, transaction
from connector.pull.parking import retry_parked
from connector.pull.reread import reread_unfinished
from connector.pull.windows import WindowRead
from connector.store.writes import save_cursor

DAY = 86_400
# A last read this close to the retention edge counts as past it (clock skew, events listed late).
RETENTION_MARGIN_SECONDS = 3_600


def _day(epoch_s: int) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class StripePull:
    def __init__(self, pull: PullContext, client: StripeClient) -> None:
        self.pull = pull
        self.ctx = pull.ctx
        self.client = client
        self.now = to_epoch_s(self.ctx.as_of)

    def _retry_parked(self, parked_now: int) -> None:
        """Fetch again what earlier runs parked; the notes say what this run parked and what resolved."""
        resolved, still = retry_parked(self.pull, self.client)
        if parked_now:
            self.ctx.notes.append(
                f"stripe: {parked_now} record(s) parked (a retry cannot fix them: see the quarantine); "
                "the event log moved past them"
            )
        if resolved or still:
            self.ctx.notes.append(f"stripe: parked records fetched again: {resolved} resolved, {still} still failing")

    def backfill(self) -> None:
        """`[since, until)` by created time; no incremental cursor is read or moved.

        With no event cursor yet and the whole history read (`handover`), the backfill records the
        newest event before reading and leaves it as a first sync's full read would, so that sync
        applies only the events since.
        """
        since = to_epoch_s(self.ctx.since) if self.ctx.since is not None else 0
        until = to_epoch_s(self.ctx.until) if self.ctx.until is not None else None
        events_stats = self.pull.stat(EVENTS_STREAM)
        newest_at: EventPosition | None = None
        handover = stripe_may_hand_over(self.pull, self.client, EVENTS_STREAM)
        if handover:
            newest = self.client.newest_event(counter=events_stats.counter)
            newest_at = EventPosition(newest.get("id"), newest.get("created")) if newest else None
        self._read_windows(since, until, epoch=None)
        if handover:
            with transaction(self.ctx) as session:
                save_cursor(session, EVENTS_STREAM, stripe_events_cursor(newest_at, self.now))
            self.ctx.notes.append(
                "stripe: the backfill read every object and left the first sync the event log position"
            )
            self.pull.finish(EVENTS_STREAM)

    def sync(self) -> None:
        events_stats = self.pull.stat(EVENTS_STREAM)
        cursor = EventsCursor.from_json(read_cursor(self.ctx, EVENTS_STREAM))
        full = cursor.full
        if full is None:
            newest = self.client.newest_event(counter=events_stats.counter)
            newest_at = EventPosition(newest.get("id"), newest.get("created")) if newest else None
            last_read = cursor.last_read
            if last_read is not None and not self._expired(last_read, newest_at):
                applied = apply_events(self.pull, self.client, cursor, read_at=self.now)
                self._note_events(last_read, applied.events)
                self._retry_parked(applied.parked)
                if applied.refetched:
                    versions = ", ".join(sorted(applied.versions or ()))
                    self.ctx.notes.append(
                        f"stripe: {applied.refetched} object(s) whose events are in API version {versions} "
                        f"(pinned {self.ctx.settings.stripe.api_version}) fetched again in the pinned version"
                        + (f"; {applied.gone} no longer exist" if applied.gone else "")
                    )
                self.pull.finish(EVENTS_STREAM)
                return
            full = self._begin_full_read(cursor, newest_at)
        self._read_windows(full.since, None, epoch=full.epoch, whole_when_changeable=full.since is not None)
        if full.since is not None:  # past retention: what was created before can still have changed
            counts = reread_unfinished(self.pull, self.client, full.since)
            if counts:
                listed = ", ".join(f"{name} {n}" for name, n in counts.items())
                self.ctx.notes.append(f"stripe: re-read the stored records not yet final: {listed}")
        pending = full.pending or EventPosition(None, full.started or self.now)
        with transaction(self.ctx) as session:
            save_cursor(session, EVENTS_STREAM, EventsCursor(pending, read_at=full.started or self.now).to_json())
        self.pull.finish(EVENTS_STREAM)

    def _note_events(self, last_read: int, applied: int) -> None:
        retention = self.ctx.settings.stripe.event_retention_days
        self.ctx.notes.append(
            f"stripe: event log read since the last complete read ({_day(last_read)}, inside the {retention}-day "
            f"retention): {applied} event(s) applied"
        )

    def _read_windows(
        self, since: int | None, until: int | None, epoch: str | None, whole_when_changeable: bool = False
    ) -> None:
        """Each stream created in `[since, until)`; with `whole_when_changeable` (past retention) the
        streams whose records change without a status are read whole: one changed before `since`
        (a product's category, a customer's e-mail) has no other way back."""
        for stream in STREAMS:
            start = None if whole_when_changeable and stream.changes_without_status else since
            WindowRead(self.pull, self.client, stream, start, until, epoch).run()
            self.pull.finish(stream.key)

    def _begin_full_read(self, cursor: EventsCursor, newest: EventPosition | None) -> FullRead:
        """Record the newest event before reading, so nothing changed during the read is missed."""
        since: int | None = None
        last_read = cursor.last_read
        if last_read is not None:  # past retention: re-read from a day before the last complete read
            retention = self.ctx.settings.stripe.event_retention_days
            since = last_read - DAY
            whole = ", ".join(s.name for s in STREAMS if s.changes_without_status)
            day = dt.datetime.fromtimestamp(since, dt.UTC).date().isoformat()
            self.ctx.notes.append(
                f"stripe: last complete read of the event log ({_day(last_read)}) is older than the "
                f"{retention}-day retention, so events may be lost; re-read windows since {day}, the whole "
                f"lists of {whole} (they change with no status and no list filters by update), and every stored "
                "invoice, subscription, credit note, refund, dispute and invoice payment not yet final"
            )
        full = FullRead(self.ctx.run_id, newest, since, started=self.now)
        with transaction(self.ctx) as session:
            save_cursor(session, EVENTS_STREAM, EventsCursor(cursor.position, full, cursor.read_at).to_json())
        return full

    def _expired(self, last_read: int, newest: EventPosition | None) -> bool:
        """Can events after the last complete read be gone from Stripe's retention?"""
        retention = self.ctx.settings.stripe.event_retention_days * DAY
        now = max(self.now, (newest.created or 0) if newest is not None else 0)
        return last_read < now - retention + RETENTION_MARGIN_SECONDS
