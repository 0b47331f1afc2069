"""Progress lines for the JSON log: what each stage has done, every few seconds, while it runs.

A container has no terminal for Rich bars, and a long backfill used to log nothing between
"run started" and "compute": an operator could not tell a slow run from a stuck one. The
stages already report through the run's progress hook (`RunContext.progress`: pull per page,
compute per batch of customers, push per entry); `ProgressLog` listens on the same hook and a
ticker thread writes one line per stage every `[log] progress_seconds`, with rates and, where
the total is known, an ETA. Lines come from the ticker, not from the hook, so a stage stuck
in one long request still shows it is alive (its counts simply stop moving).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from connector.context import ProgressHook

log = logging.getLogger(__name__)


@dataclass
class _Count:
    done: int
    total: int | None
    started: float  # not money: monotonic time of the first report


def stage_of(stream: str) -> str:
    """`compute` and `push` are stages of their own; every other name is a pulled stream."""
    return stream if stream in ("compute", "push") else "pull"


class ProgressLog:
    """The hook's counts, and the progress lines made from them (`lines`, for the ticker and tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, _Count] = {}
        self._stage: str | None = None  # the stage that reported last: the one running

    def hook(self, stream: str, done: int, total: int | None) -> None:
        with self._lock:
            count = self._counts.get(stream)
            if count is None:
                self._counts[stream] = _Count(done, total, self._clock())
            else:
                count.done, count.total = done, total
            self._stage = stage_of(stream)

    def lines(self) -> list[dict[str, Any]]:
        """One line per stage that has reported: the running one last."""
        now = self._clock()
        with self._lock:
            counts = {name: _Count(c.done, c.total, c.started) for name, c in self._counts.items()}
            current = self._stage
        stages = sorted({stage_of(name) for name in counts}, key=lambda s: (s == current, s))
        return [self._line(stage, {n: c for n, c in counts.items() if stage_of(n) == stage}, now) for stage in stages]

    @staticmethod
    def _line(stage: str, counts: dict[str, _Count], now: float) -> dict[str, Any]:  # not money: seconds
        def rate(c: _Count) -> float:  # not money: records a second
            return round(c.done / max(now - c.started, 1e-6), 1)

        if stage == "pull":
            streams = {name: {"records": c.done, "per_s": rate(c)} for name, c in sorted(counts.items())}
            return {"stage": "pull", "records": sum(c.done for c in counts.values()), "streams": streams}
        (count,) = counts.values()
        line: dict[str, Any] = {"stage": stage, "done": count.done, "total": count.total, "per_s": rate(count)}
        if count.total is not None and count.done and count.done < count.total:
            line["eta_s"] = round((count.total - count.done) / max(rate(count), 1e-6))
        return line

    def emit(self) -> None:
        for line in self.lines():
            log.info("progress", extra=line)


def combine(*hooks: ProgressHook | None) -> ProgressHook | None:
    """One hook calling each of `hooks` (None when there are none)."""
    present = [h for h in hooks if h is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def both(stream: str, done: int, total: int | None) -> None:
        for hook in present:
            hook(stream, done, total)

    return both


@contextmanager
def progress_lines(interval_seconds: float) -> Iterator[ProgressLog]:
    """A `ProgressLog` whose lines a daemon thread logs every `interval_seconds` until the block ends."""
    progress = ProgressLog()
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval_seconds):
            progress.emit()

    ticker = threading.Thread(target=tick, name="connector-progress", daemon=True)
    ticker.start()
    try:
        yield progress
    finally:
        stop.set()
        ticker.join(timeout=5)
