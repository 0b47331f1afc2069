"""Step 2 of the outbox: a batch's requests, one lane per partner, and what each answer means.

The platform offers no idempotency, so a request whose outcome is unknown (timeout after sending,
dropped connection, 5xx, a cut answer) is never sent again before the platform has been asked
whether it landed (`adapters.http.once.create_once` with the destination's `find_pushed`, since
the attempt). Whether the platform refused a request or its outcome is unknown is read from the
HTTP status the error carries, never from its message.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from adapters.http.errors import AuthError, ConnectorHttpError
from adapters.http.once import create_once, outcome_unknown
from connector.push.destination import Destination
from connector.push.results import Answer, Outgoing, Progress

# The name the push has always logged under, so log queries keep matching "reward rejected".
log = logging.getLogger("connector.push.outbox")


@dataclass
class BatchOutcome:
    """What the lanes of one batch got: the answers, the entries no lane reached, the first failure."""

    answers: list[Answer]
    unsent: list[str]
    error: BaseException | None


@dataclass
class _Lane:
    """One partner's entries of a batch and what became of them."""

    items: list[Outgoing]
    answers: list[Answer] = field(default_factory=list)
    in_doubt: str | None = None  # the entry whose request failed with an unknown outcome
    error: BaseException | None = None


def _by_partner(outgoing: list[Outgoing]) -> list[list[Outgoing]]:
    """A batch split per partner, each lane still in event order."""
    lanes: dict[str, list[Outgoing]] = {}
    for item in outgoing:
        lanes.setdefault(item.partner_key, []).append(item)
    return list(lanes.values())


class Flight:
    """A batch on its way: partners in parallel, each partner's entries one after another in event order.

    Started on the pool and awaited with `wait`, so the caller can read and build the next batch
    while this one is on the wire (the push is GIL-bound on two cores: the batch transactions on
    the main thread otherwise ran while every lane waited). Without a pool the lanes run here, at
    once. The pool's workers each take the next partner's lane from one queue until none is left:
    a batch of 500 entries holds some 400 partners at M, and a `Future` per partner cost more than
    its one or two requests' bookkeeping.

    The first failure stops every lane after its current entry. The entry whose request failed
    stays out of `unsent` (the platform may have it); what no lane reached is `unsent`, so a
    stopped run does not leave a whole batch for recovery to check.
    """

    def __init__(
        self,
        destination: Destination,
        outgoing: list[Outgoing],
        pool: ThreadPoolExecutor | None,
        progress: Progress,
        since: dt.datetime,
        fence: Callable[[], None] | None = None,
        workers: int = 1,
    ) -> None:
        self._destination, self._progress, self._since, self._fence = destination, progress, since, fence
        self._outgoing = outgoing
        self._stop = threading.Event()
        self._lanes = [_Lane(items) for items in _by_partner(outgoing)]
        self._queue = deque(self._lanes)
        self._futures: list[Future[None]] = []
        if pool is None:
            self._drain()
        else:
            self._futures = [pool.submit(self._drain) for _ in range(max(1, min(workers, len(self._lanes))))]

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                lane = self._queue.popleft()  # atomic: each lane is taken by exactly one worker
            except IndexError:
                return
            self._run_lane(lane)

    def _run_lane(self, lane: _Lane) -> None:
        for item in lane.items:
            if self._stop.is_set():
                return
            try:
                lane.answers.append(_send_one(self._destination, item, self._since, self._fence))
            except BaseException as exc:  # recorded by the caller, then raised
                lane.in_doubt, lane.error = item.entry_key, exc
                self._stop.set()
                return
            self._progress.step()

    def stop(self) -> None:
        """Every lane stops after its current entry (what none reached is `unsent`)."""
        self._stop.set()

    def wait(self) -> BatchOutcome:
        """What the lanes got, once every lane has stopped."""
        for future in self._futures:
            future.result()
        lanes = self._lanes
        answers = [a for lane in lanes for a in lane.answers]
        settled = {a.outgoing.entry_key for a in answers} | {lane.in_doubt for lane in lanes if lane.in_doubt}
        unsent = [o.entry_key for o in self._outgoing if o.entry_key not in settled]
        errors = [lane.error for lane in lanes if lane.error is not None]
        return BatchOutcome(answers, unsent, errors[0] if errors else None)


def _send(destination: Destination, body: dict[str, Any]) -> dict[str, Any]:
    """The request itself (its own function so tests can interrupt around it)."""
    return destination.send(body)


def _send_one(
    destination: Destination, item: Outgoing, since: dt.datetime, fence: Callable[[], None] | None = None
) -> Answer:
    """One entry: the platform's key, or a 4xx refusal; an outcome still unknown after asking raises
    (the entry stays `sending` and the next run asks again before anything is resent).

    `fence` runs before every request: a run that lost the run lock sends nothing more (the run
    that took it over asks the platform about this entry before sending it)."""

    def create() -> str:
        if fence is not None:
            fence()
        return destination.platform_key(_send(destination, item.body))

    def landed() -> str | None:
        return destination.find_pushed({item.entry_key: item.body}, since).get(item.entry_key)

    try:
        return Answer(item, platform_key=create_once(create, landed))
    except ConnectorHttpError as exc:
        if outcome_unknown(exc) or isinstance(exc, AuthError):
            raise
        log.warning("reward rejected", extra={"entry_key": item.entry_key, "status": exc.status_code})
        return Answer(item, rejection=str(exc))
