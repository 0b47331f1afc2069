"""PartnerStack streams: `min_updated` windows, trailing reads (see `trailing`), or a backfill's created range.

Lists come newest first. Streams with an update filter are read in windows
`min_updated ≥ watermark − overlap`, paged to the end before the watermark moves; the last
committed page's key is saved so a crash resumes mid-window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from adapters.http import Page
from adapters.partnerstack import STREAMS, PartnerStackClient, PartnerStackStream, to_epoch_ms
from adapters.partnerstack.streams import TrailingCursor, UpdatedCursor
from connector.pull.context import PullContext
from connector.pull.fanin import run_concurrently
from connector.pull.handover import PartnerStackHandover, partnerstack_may_hand_over
from connector.pull.pages import read_cursor, transaction
from connector.pull.stats import StreamStats
from connector.pull.trailing import TrailingRead
from connector.store.writes import save_cursor


class PartnerStackPull:
    def __init__(self, pull: PullContext, client: PartnerStackClient) -> None:
        self.pull = pull
        self.ctx = pull.ctx
        self.client = client
        self.handed_over: list[str] = []  # streams whose first-sync cursor this backfill left

    def run(self) -> None:
        for stream in STREAMS:
            self.read(stream)
            self.pull.finish(stream.key)
        if self.handed_over:
            self.ctx.notes.append(
                "partnerstack: the backfill read every record of " + ", ".join(self.handed_over)
                + " and left the first sync their positions"
            )

    def read(self, stream: PartnerStackStream) -> None:
        if self.ctx.is_backfill:
            self._backfill(stream)
            return
        state = read_cursor(self.ctx, stream.key)
        if stream.strategy == "updated":
            self._updated(stream, UpdatedCursor.from_json(state, stream.key))
        else:
            TrailingRead(self.pull, self.client, stream, TrailingCursor.from_json(state, stream.key)).run()

    def _pages(self, stream: PartnerStackStream, params: dict[str, Any], stats: StreamStats) -> Iterator[Page]:
        """The stream's pages in order, the next ones fetched on a thread while this one is written.

        Why: read one after the other, each page waited for the write of the one before, so at the
        API's rate limit the stream took its requests' time plus its writes' time (a 250-record page
        is a long write). A failure is raised after the pages fetched before it, as before; a run
        stopped early has fetched at most a few pages it never wrote, which the next run reads again.
        """
        client = self.client

        def fetch(emit: Callable[[Any], None]) -> None:
            for page in client.iter_list(stream.path, params, counter=stats.counter):
                emit(page)

        yield from run_concurrently([fetch], 1)

    def _backfill(self, stream: PartnerStackStream) -> None:
        """`[since, until)` by created time; no incremental cursor is read or moved.

        A stream with no cursor yet whose whole history the backfill read gets the cursor a first
        sync's full read would leave (`handover`), so that sync reads only what is new.
        """
        params: dict[str, Any] = {}
        if self.ctx.since is not None:
            params["min_created"] = to_epoch_ms(self.ctx.since)
        if self.ctx.until is not None:
            params["max_created"] = to_epoch_ms(self.ctx.until) - 1  # half-open [since, until)
        stats = self.pull.stat(stream.key)
        handover = (
            PartnerStackHandover(stream, to_epoch_ms(self.ctx.as_of))
            if partnerstack_may_hand_over(self.pull, self.client, stream)
            else None
        )
        for page in self._pages(stream, params, stats):
            with transaction(self.ctx) as session:
                records = self.pull.writer.write(session, stream.key, page, stats)
            if handover is not None:
                handover.saw(page, [to_epoch_ms(r.row["updated_at"]) for r in records
                                    if r.row.get("updated_at") is not None])  # fmt: skip
            self.pull.page_written(stream.key)
        if handover is not None:
            with transaction(self.ctx) as session:
                save_cursor(session, stream.key, handover.cursor())
            self.handed_over.append(stream.name)

    def _updated(self, stream: PartnerStackStream, cursor: UpdatedCursor) -> None:
        """Window `min_updated ≥ watermark − overlap`; the watermark moves only once it is paged to the end."""
        stats = self.pull.stat(stream.key)
        window = cursor.next_window(self.ctx.settings.partnerstack.overlap_seconds * 1000)
        params = {"min_updated": window.min_updated, "starting_after": window.after}
        for page in self._pages(stream, params, stats):
            with transaction(self.ctx) as session:
                records = self.pull.writer.write(session, stream.key, page, stats)
                updated = [to_epoch_ms(r.row["updated_at"]) for r in records if r.row.get("updated_at") is not None]
                window = window.after_page(str(page[-1].get("key")) if page else None, updated)
                save_cursor(session, stream.key, UpdatedCursor(cursor.watermark, window).to_json())
            self.pull.page_written(stream.key)
        with transaction(self.ctx) as session:
            save_cursor(session, stream.key, UpdatedCursor(window.max_seen, None).to_json())
