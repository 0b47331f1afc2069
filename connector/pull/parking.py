"""Poison records are parked, not retried forever (issue 15).

A record whose completion fails in a way no retry can fix (the invoice's remaining lines answer
404, a body that stays unusable after every retry) used to fail the run, and so every later run
until the event left Stripe's 30-day retention: one bad record stopped everything behind it, a
real refund included. Such a record is now *parked*: kept in the quarantine with its reason, left
out of the page, and the stream's cursor moves past it, so the run goes on. A later run fetches
it again (`retry_parked`), at most `[stripe] parked_retry_limit` times; once upstream is fixed it
is stored and its row resolves (`RecordWriter` resolves any earlier row of a record it stores).
Meanwhile its billing customer's entries are held `upstream_quarantined` (`pages.HOLDS`).

Anything else (a 5xx or a dropped connection after every retry, a 401) still fails the run: the
next run may well succeed, and parking a record for an outage would skip it for no reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from adapters.http import ConnectorHttpError, RequestCounter, RetriesExhausted
from adapters.stripe import STREAMS, StripeClient, StripeStream
from connector.pull.context import PullContext
from connector.pull.pages import transaction
from connector.rules.invariants import PARKED_REASONS, UNUSABLE_BODY, UPSTREAM_NOT_FOUND
from connector.store.models import Quarantine

log = logging.getLogger(__name__)



def unfixable(exc: BaseException) -> str | None:
    """The parking reason of an error no retry can fix, or None (the run must fail on it)."""
    if not isinstance(exc, ConnectorHttpError):
        return None
    status = exc.status_code
    if status in (404, 410):  # the object, or the list it refers to, is gone upstream
        return UPSTREAM_NOT_FOUND
    if isinstance(exc, RetriesExhausted) and status is not None and 200 <= status < 300:
        return UNUSABLE_BODY  # answered every time, never with a body that parses
    return None


@dataclass(frozen=True)
class Parked:
    """A record left out of its page, with why."""

    payload: Any
    reason: str
    error: str


def complete_or_park(
    client: StripeClient, stream: StripeStream, objects: Sequence[Any], counter: RequestCounter | None
) -> tuple[Sequence[Any], list[Parked]]:
    """`client.complete` of `objects`, with those it cannot complete for good set aside.

    The whole page is tried first (the common case, unchanged); only when it fails unfixably is
    each object completed alone, to find which one is poison.
    """
    try:
        return client.complete(stream, objects, counter=counter), []
    except ConnectorHttpError as exc:
        if unfixable(exc) is None:
            raise
    done: list[Any] = []
    parked: list[Parked] = []
    for obj in objects:
        try:
            done.extend(client.complete(stream, [obj], counter=counter))
        except ConnectorHttpError as exc:
            reason = unfixable(exc)
            if reason is None:
                raise
            parked.append(Parked(obj, reason, str(exc)))
    return done, parked


def retry_parked(pull: PullContext, client: StripeClient) -> tuple[int, int]:
    """Fetch again the Stripe records earlier runs parked that have retries left; returns
    (resolved, still parked). A record that fails again counts one more attempt."""
    limit = pull.ctx.settings.stripe.parked_retry_limit
    streams = {s.key: s for s in STREAMS}
    with pull.ctx.sessions() as session:
        rows = session.execute(
            select(Quarantine.id, Quarantine.source, Quarantine.source_id)
            .where(
                Quarantine.resolved_at.is_(None),
                Quarantine.reason.in_(PARKED_REASONS),
                Quarantine.source.in_(sorted(streams)),
                Quarantine.source_id.is_not(None),
                Quarantine.attempts < limit,
                Quarantine.run_id.is_distinct_from(pull.ctx.run_id),
            )
            .order_by(Quarantine.id)
        ).all()
    resolved = failed = 0
    for row_id, source, source_id in rows:
        stream = streams[source]
        stats = pull.stat(source)
        try:
            obj = client.retrieve(stream.path, str(source_id), counter=stats.counter)
            done, parked = complete_or_park(client, stream, [obj], stats.counter)
            error = parked[0].error if parked else None
        except ConnectorHttpError as exc:
            if unfixable(exc) is None:
                raise
            done, error = [], str(exc)
        with transaction(pull.ctx) as session:
            if error is None:
                pull.writer.write(session, source, done, stats)  # stores it: the row resolves
                resolved += 1
                continue
            session.execute(
                update(Quarantine)
                .where(Quarantine.id == row_id)
                .values(attempts=Quarantine.attempts + 1, last_attempt_at=dt.datetime.now(dt.UTC))
            )
            failed += 1
            log.warning("parked %s %s still fails: %s", source, source_id, error[:300])
    return resolved, failed
