"""Rewards and transactions: no update filter, so each run reads what is newer than the newest record.

Each run reads what is newer than the newest record already read (`ending_before` its key,
so items sharing a created millisecond are not re-read) and the `overlap_seconds` before
it; the whole `trailing_window_days` window is re-read only every `trailing_reread_hours`,
to catch edits to older records. The read in progress (`pass`) is saved with every page,
so a crash resumes it; `head` and `reread_at` move only once it is paged to the end.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

from adapters.http import CursorRejected, Page
from adapters.partnerstack import PartnerStackClient, PartnerStackStream, to_epoch_ms
from adapters.partnerstack.streams import TrailingCursor, TrailingPass
from connector.pull.context import PullContext
from connector.pull.pages import transaction
from connector.store.writes import save_cursor

log = logging.getLogger(__name__)


class TrailingRead:
    """One run's read of one trailing stream: passes until none is left, then the head moves."""

    def __init__(
        self, pull: PullContext, client: PartnerStackClient, stream: PartnerStackStream, cursor: TrailingCursor
    ) -> None:
        self.pull = pull
        self.ctx = pull.ctx
        self.client = client
        self.stream = stream
        self.settings = self.ctx.settings.partnerstack
        self.now = to_epoch_ms(self.ctx.as_of)
        self.head = cursor.head
        self.reread_at = cursor.reread_at
        window_ms = self.settings.trailing_window_days * 86_400_000
        self.window = TrailingPass(
            "window", min_created=self.now - window_ms if cursor.read_before else None, started=self.now
        )
        self.step: TrailingPass | None = self._first_pass(cursor.step)

    def _first_pass(self, saved: TrailingPass | None) -> TrailingPass:
        """The saved pass, else what is new since the head, else the window when a re-read is due."""
        if saved is not None:
            return saved if saved.started is not None or saved.kind != "window" else dataclasses.replace(
                saved, started=self.now
            )
        due = self.reread_at is None or self.now - self.reread_at >= self.settings.trailing_reread_hours * 3_600_000
        return self.window if self.head is None or due else TrailingPass("new", cursor=self.head.key)

    def run(self) -> None:
        restarted = False
        while self.step is not None:
            try:
                self._read_pass()
            except CursorRejected as exc:
                if restarted:
                    raise
                restarted = True
                self.step = self._restart(self.step, exc)
                continue
            self.step = self._next_pass(self.step)
            self._save_cursor()

    def _restart(self, step: TrailingPass, exc: CursorRejected) -> TrailingPass:
        """A cursor the API no longer knows: a vanished head re-reads the window, any other pass restarts."""
        if step.kind != "new":
            return dataclasses.replace(step, cursor=None)
        resource = self.stream.name
        self.ctx.notes.append(
            f"partnerstack {resource}: the newest record read before is gone; re-read the trailing window"
        )
        log.warning("partnerstack %s: %s; re-reading the trailing window", resource, exc)
        return self.window

    def _next_pass(self, done: TrailingPass) -> TrailingPass | None:
        """After a `new` read, the overlap before the old head; after anything else, the head moves."""
        overlap_ms = self.settings.overlap_seconds * 1000
        if done.kind == "new" and self.head is not None and self.head.created is not None and overlap_ms:
            created = self.head.created
            # the head's own millisecond was read by `new` up to the head
            return TrailingPass("overlap", min_created=created - overlap_ms, max_created=created - 1,
                                newest=done.newest)  # fmt: skip
        if done.kind == "window":
            self.reread_at = done.started
        self.head = done.newest or self.head
        return None

    def _pages(self, step: TrailingPass) -> Iterator[Page]:
        counter = self.pull.stat(self.stream.key).counter
        if step.kind == "new":
            return self.client.iter_newer(self.stream.path, str(step.cursor), counter=counter)
        params = {"min_created": step.min_created, "max_created": step.max_created, "starting_after": step.cursor}
        return self.client.iter_list(self.stream.path, params, counter=counter)

    def _read_pass(self) -> None:
        """Page the current pass, saving its progress with every page."""
        assert self.step is not None
        stats = self.pull.stat(self.stream.key)
        for page in self._pages(self.step):
            with transaction(self.ctx) as session:
                self.pull.writer.write(session, self.stream.key, page, stats)
                self.step = self.step.after_page(page)
                save_cursor(session, self.stream.key, self._cursor().to_json())
            self.pull.page_written(self.stream.key)

    def _cursor(self) -> TrailingCursor:
        return TrailingCursor(head=self.head, reread_at=self.reread_at, step=self.step)

    def _save_cursor(self) -> None:
        with transaction(self.ctx) as session:
            save_cursor(session, self.stream.key, self._cursor().to_json())
