"""The thread fan-in: fetch on many threads, write on one (which keeps SQLite happy)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

# A fetch task: calls `emit` with each thing it fetched, in order.
Task = Callable[[Callable[[Any], None]], None]


class _Cancelled(Exception):
    pass


@dataclass
class _Failure:
    exc: BaseException


_DONE = object()


def run_concurrently(tasks: list[Task], workers: int) -> Iterator[Any]:
    """Run fetch tasks on threads; yield what they emit here, so one thread does the writing."""
    for batch in run_concurrently_batched(tasks, workers):
        yield from batch


def run_concurrently_batched(
    tasks: list[Task],
    workers: int,
    max_batch: int = 1,
    linger: float = 0.0,  # not money: seconds
    idle: Callable[[], None] | None = None,
) -> Iterator[list[Any]]:
    """`run_concurrently`, yielding everything already emitted (up to `max_batch`) at once.

    When the writing thread is the slower side, the pages waiting for it can share one
    transaction instead of paying a commit each. When it keeps up (the fetches are the slower
    side, as at an API's rate limit), a batch waits up to `linger` seconds after its first item
    for more: the writer would only be idle meanwhile, and a batch of several pages pays one
    transaction's fixed costs (connection check, BEGIN, COMMIT and its WAL flush) instead of one
    per page. The last batch does not wait: it is yielded when the last task is done.

    `idle`, when given, is called (on the consuming thread) each time nothing has been emitted
    yet for the next batch, right before waiting for it: a writer keeping a transaction open
    across batches commits there, so it never holds it while waiting on the network.
    """
    if not tasks:
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=max(2, workers * 2))
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pull")
    try:
        for task in tasks:
            pool.submit(_run_task, task, q, stop)
        yield from _collect(q, len(tasks), max_batch, linger, idle)
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _put(q: queue.Queue[Any], stop: threading.Event, item: Any) -> None:
    """Hand `item` to the writing thread, giving up once it has stopped listening."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            continue
    raise _Cancelled


def _run_task(task: Task, q: queue.Queue[Any], stop: threading.Event) -> None:
    try:
        if stop.is_set():
            return
        task(lambda item: _put(q, stop, item))
    except _Cancelled:
        return
    except BaseException as exc:  # handed to the writing thread, which re-raises it
        try:
            _put(q, stop, _Failure(exc))
        except _Cancelled:
            return
    try:
        _put(q, stop, _DONE)
    except _Cancelled:
        return


def _collect(
    q: queue.Queue[Any],
    remaining: int,
    max_batch: int,
    linger: float,  # not money: seconds
    idle: Callable[[], None] | None,
) -> Iterator[list[Any]]:
    """Batches of what the tasks emit until every task is done; a task's failure is raised here."""
    while remaining:
        batch: list[Any] = []
        try:
            item = q.get_nowait()
        except queue.Empty:
            if idle is not None:
                idle()
            item = q.get()
        deadline = time.monotonic() + linger
        while True:
            if item is _DONE:
                remaining -= 1
            elif isinstance(item, _Failure):
                if batch:  # what came before the failure is still written
                    yield batch
                raise item.exc
            else:
                batch.append(item)
            if len(batch) >= max_batch or not remaining:
                break
            try:
                item = q.get_nowait()
            except queue.Empty:
                wait = deadline - time.monotonic() if batch else 0.0
                if wait <= 0:
                    break
                try:
                    item = q.get(timeout=wait)
                except queue.Empty:
                    break
        if batch:
            yield batch
