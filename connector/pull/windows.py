"""Reading one Stripe stream by `created` windows: the first page of the range, then windows below it.

The first page of the whole range comes first: a small stream ends there. A bigger one is
split below that page into `created` windows fetched concurrently and written from this
thread; with an `epoch` (a sync's full read, not a backfill) every write saves the position.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from adapters.stripe import StripeClient, StripeStream, WindowsCursor, to_epoch_s
from adapters.stripe.streams import HeadPage, WindowProgress
from connector.pull.context import PullContext
from connector.pull.fanin import Task, run_concurrently_batched
from connector.pull.pages import RollingTransaction, read_cursor, transaction
from connector.pull.parking import Parked, complete_or_park
from connector.store.writes import save_cursor

# How long a batch of pages waits for more when the writer is ahead of the fetches (at the rate
# limit a window's endpoint yields a page every 40 ms): about six pages share a transaction.
BATCH_LINGER_SECONDS = 0.25  # not money
# A backfill's batches share a transaction this long (see `RollingTransaction`); a read that saves
# its position (`epoch`) commits each batch with it.
BACKFILL_COMMIT_SECONDS = 1.0  # not money

Window = tuple[str, dict[str, Any]]  # label ("<lo>:<hi>", saved in the cursor) and its `created` filter


def created_windows(since: int | None, until: int, size: int, open_tail_after: int) -> list[Window]:
    """`created` windows of `size` seconds covering [since, until), newest first.

    No `since` ends, after `open_tail_after` windows, in one open tail (everything older).
    """
    out: list[Window] = []
    hi = until
    if since is None:
        for _ in range(open_tail_after):
            out.append((f"{hi - size}:{hi}", {"created[gte]": hi - size, "created[lt]": hi}))
            hi -= size
        out.append((f":{hi}", {"created[lt]": hi}))
        return out
    while hi > since:
        lo = max(since, hi - size)
        out.append((f"{lo}:{hi}", {"created[gte]": lo, "created[lt]": hi}))
        hi = lo
    return out


class WindowRead:
    """Reads `stream` created in [since, until) into the store."""

    def __init__(
        self,
        pull: PullContext,
        client: StripeClient,
        stream: StripeStream,
        since: int | None,
        until: int | None,
        epoch: str | None,
    ) -> None:
        self.pull = pull
        self.ctx = pull.ctx
        self.client = client
        self.stream = stream
        self.since = since
        self.until = until
        self.epoch = epoch
        self.stats = pull.stat(stream.key)
        self.cursor = self._saved_cursor()

    def _saved_cursor(self) -> WindowsCursor:
        """The saved progress of this read (same `epoch`); a backfill keeps none."""
        if self.epoch is not None:
            saved = WindowsCursor.from_json(read_cursor(self.ctx, self.stream.key), self.stream.key)
            if saved.epoch == self.epoch:
                return saved
        return WindowsCursor(self.epoch)

    def run(self) -> None:
        if self.cursor.head is None:
            self._read_head_page()
        assert self.cursor.head is not None
        if self.cursor.head.bound is not None:
            self._read_windows(self.cursor.head.bound)

    def _read_head_page(self) -> None:
        params = {"created[gte]": self.since, "created[lt]": self.until}
        first, has_more = self.client.list_page(self.stream.path, params, counter=self.stats.counter)
        items, parked = complete_or_park(self.client, self.stream, first, self.stats.counter)
        bound = self._bound_below(first) if has_more else None
        with transaction(self.ctx) as session:
            self.pull.writer.write(session, self.stream.key, items, self.stats)
            self.pull.writer.park(session, self.stream.key, parked, self.stats)
            self.cursor = dataclasses.replace(self.cursor, head=HeadPage(bound))
            self._save(session)
        self.pull.page_written(self.stream.key)

    def _bound_below(self, items: list[Any]) -> int:
        """Everything older than the head page's oldest second is still to read."""
        created = [i.get("created") for i in items if isinstance(i, dict)]
        numbers = [c for c in created if isinstance(c, int) and not isinstance(c, bool)]
        return min(numbers) + 1 if numbers else (self.until or to_epoch_s(self.ctx.as_of) + 86_400)

    def _read_windows(self, bound: int) -> None:
        settings = self.ctx.settings.stripe
        windows = created_windows(
            self.since, bound, settings.backfill_window_days * 86_400, max(2, settings.concurrency * 2)
        )
        tasks = [self._fetch_task(label, query) for label, query in self._unfinished(windows)]
        workers = settings.concurrency
        commit_after = BACKFILL_COMMIT_SECONDS if self.epoch is None else 0.0
        with RollingTransaction(self.ctx, commit_after) as rolling:
            batches = run_concurrently_batched(
                tasks, workers, max_batch=2 * workers, linger=BATCH_LINGER_SECONDS, idle=rolling.commit
            )
            for batch in batches:
                self._write_batch(batch, rolling)

    def _unfinished(self, windows: list[Window]) -> list[Window]:
        """The windows still to read, each resuming after the last object it wrote."""
        out = []
        for label, params in windows:
            done = self.cursor.windows.get(label)
            if done is not None and done.done:
                continue
            query = dict(params)
            if done is not None and done.after:
                query["starting_after"] = done.after
            out.append((label, query))
        return out

    def _fetch_task(self, label: str, params: dict[str, Any]) -> Task:
        client, stream, counter = self.client, self.stream, self.stats.counter

        def task(emit: Callable[[Any], None]) -> None:
            for page in client.iter_list(stream.path, params, counter=counter):
                done, parked = complete_or_park(client, stream, page, counter)
                last = page[-1].get("id") if page and isinstance(page[-1], dict) else None
                emit((label, _Read(done, parked, last), False))
            emit((label, _Read([], [], None), True))

        return task

    def _write_batch(self, batch: list[tuple[str, _Read, bool]], rolling: RollingTransaction) -> None:
        """The pages of a batch and the position after them, in one transaction (a parked object
        counts as read: the window resumes after it); a backfill's batches may share it."""
        progress = dict(self.cursor.windows)
        with rolling.batch() as session:
            for label, read, finished in batch:
                if read.items:
                    self.pull.writer.write(session, self.stream.key, read.items, self.stats)
                if read.parked:
                    self.pull.writer.park(session, self.stream.key, read.parked, self.stats)
                if read.items or read.parked:
                    progress[label] = WindowProgress(after=read.last)
                if finished:
                    progress[label] = WindowProgress(done=True)
            self.cursor = dataclasses.replace(self.cursor, windows=progress)
            self._save(session)
        for _, read, _ in batch:
            if read.items or read.parked:
                self.pull.page_written(self.stream.key)

    def _save(self, session: Session) -> None:
        if self.epoch is not None:
            save_cursor(session, self.stream.key, self.cursor.to_json())


@dataclass(frozen=True)
class _Read:
    """One page of a window: what to store, what to park, and the id the window resumes after."""

    items: Sequence[Any]
    parked: list[Parked]
    last: Any


__all__ = ["WindowRead", "created_windows"]
