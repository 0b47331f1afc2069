"""Past retention: re-read every stored Stripe record that is not yet final.

Events lost to retention may have changed any record whose status could still move (an open
invoice paid, a dispute won, a subscription canceled). The windows re-read what was created
since the last complete read; this re-reads what was created before it and is stored in a
status that is not final (`StripeStream.open_statuses`):

1. where the list takes `status=` (invoices, subscriptions, invoice payments), one list per open
   status, created before the windows' start: what is still open comes back in those pages;
2. the stored open ids those lists did not return (they became final, or the stream has no
   status filter: disputes, refunds, credit notes) are fetched one GET each, or, when that would
   take more requests than paging the whole stream, by paging it and keeping those ids.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.http import RecordNotFound
from adapters.stripe import STREAMS, StripeClient, StripeStream
from connector.pull.context import PullContext
from connector.pull.pages import transaction
from connector.pull.parking import complete_or_park
from connector.store import models


def _stored_open_ids(session: Session, pull: PullContext, stream: StripeStream, before: int) -> tuple[set[str], int]:
    """Ids stored in an open status and created before `before` (epoch s), and the stream's row count."""
    mapping = pull.writer.mappings[stream.key]
    table = models.Base.metadata.tables[mapping.table]
    key = table.c[mapping.key_field]
    status, created = table.c["status"], table.c["created"]
    bound = dt.datetime.fromtimestamp(before, dt.UTC)
    rows = session.execute(
        select(key).where(status.in_(sorted(stream.open_statuses)), (created < bound) | created.is_(None))
    )
    total = session.scalar(select(func.count()).select_from(table)) or 0
    return {str(r[0]) for r in rows}, int(total)


def reread_unfinished(pull: PullContext, client: StripeClient, before: int) -> dict[str, int]:
    """Re-read each stream's stored records not yet final (created before `before`); returns how
    many records were re-read per stream (streams with none are left out)."""
    counts: dict[str, int] = {}
    for stream in STREAMS:
        if not stream.open_statuses:
            continue
        with pull.ctx.sessions() as session:
            wanted, total = _stored_open_ids(session, pull, stream, before)
        read = _reread_stream(pull, client, stream, wanted, total, before)
        if read:
            counts[stream.name] = read
        pull.finish(stream.key)
    return counts


def _reread_stream(
    pull: PullContext, client: StripeClient, stream: StripeStream, wanted: set[str], total: int, before: int
) -> int:
    stats = pull.stat(stream.key)
    read = 0
    if stream.status_filter:
        for status in sorted(stream.open_statuses):
            params: dict[str, Any] = {"status": status, "created[lt]": before}
            for page in client.iter_list(stream.path, params, counter=stats.counter):
                read += _write(pull, client, stream, page)
                wanted.difference_update(str(o.get("id")) for o in page if isinstance(o, dict))
    if not wanted:
        return read
    pages_for_all = math.ceil(total / max(1, client.page_size))
    if len(wanted) <= pages_for_all:
        fetched: list[Any] = []
        for object_id in sorted(wanted):
            try:
                fetched.append(client.retrieve(stream.path, object_id, counter=stats.counter))
            except RecordNotFound:  # deleted (a draft invoice): the stored row stays as it was
                continue
        for start in range(0, len(fetched), client.page_size):
            read += _write(pull, client, stream, fetched[start : start + client.page_size])
        return read
    params = {"created[lt]": before}
    for page in client.iter_list(stream.path, params, counter=stats.counter):
        keep = [o for o in page if isinstance(o, dict) and str(o.get("id")) in wanted]
        if keep:
            read += _write(pull, client, stream, keep)
    return read


def _write(pull: PullContext, client: StripeClient, stream: StripeStream, objects: Iterable[Any]) -> int:
    stats = pull.stat(stream.key)
    done, parked = complete_or_park(client, stream, list(objects), stats.counter)
    with transaction(pull.ctx) as session:
        pull.writer.write(session, stream.key, done, stats)
        pull.writer.park(session, stream.key, parked, stats)
    pull.page_written(stream.key)
    return len(done)
