"""Push: every payable ledger entry reaches the destination platform exactly once.

The ledger is the outbox. Exactly once comes from three commits around the requests, taken a
batch of entries at a time (one transaction per batch on each side, not per entry):

1. `push_state = "sending"`, `push_attempts + 1` is committed for the batch *before* any request
   (right before: the batch was read and its bodies built while the batch before it was in flight);
2. each request is sent once; after an unknown outcome the platform is asked whether it landed
   before the request is sent again (`lanes`): no idempotency from the platform is assumed;
3. `status = "pushed"`, the platform's key, `push_state = "sent"` are committed after, for every
   entry of the batch that got an answer; entries the batch never reached (a lane stopped by
   another lane's failure) go back to `push_state = NULL`. Only then is the next batch marked, so a
   crash leaves at most one batch `sending`, all of it handed to the lanes.

A crash between 1 and 3 leaves entries `sending`; the next push first looks them up on the
platform (`recovery`) and sends again only what is not there. A 4xx refusal marks the entry
`push_state = "refused"` with the platform's message in `push_error` and the refused body's fingerprint
(`refused_body`): it is not offered again until its body changes (the entry, the program or the
mapping changed), and the report shows it to finance. An entry the destination holds (`Held`,
e.g. an amount not in the platform's currency) is not sent and stays payable. What an entry looks
like on the platform is the destination's business (`destination`).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from connector.context import RunContext
from connector.ledger.history import Stamp, record_current
from connector.push.approval import ApprovalGate
from connector.push.destination import Destination, Held
from connector.push.lanes import BatchOutcome, Flight
from connector.push.pages import OutboxPager, outbox_size, payable
from connector.push.recovery import find_landed, lookup_since
from connector.push.results import Answer, Outgoing, Progress, PushResult
from connector.push.status import read_back_status
from connector.rules.program import Program
from connector.store.keyed import not_indexed
from connector.store.models import LedgerEntry
from connector.store.planner import note_rows_changed, settle_statistics

__all__ = ["BATCH_SIZE", "REJECTED_PREFIX", "PushResult", "push"]

log = logging.getLogger(__name__)

REJECTED_PREFIX = "push rejected: "

BATCH_SIZE = 500
"""Entries marked `sending` (and recorded afterwards) per transaction. A crash re-checks at most
this many entries against the platform; a module constant so tests can shrink it."""


def push(ctx: RunContext, program: Program, destination: Destination | None = None) -> PushResult:
    """Send every payable entry of `program` once; scheduled/held/reversed never leave.

    Without a `destination`, to PartnerStack as the run's settings say. The outbox goes out in
    batches of `BATCH_SIZE` entries, one batch after another. Within a batch, partners are pushed
    in parallel (the destination's `concurrency`), each partner's entries one after another in
    event order, so a partner never sees a clawback before the reward it reverses. The first
    failure stops every lane after its current entry; what was answered is recorded before the
    failure is raised.
    """
    if destination is not None:
        return _push(ctx, program, destination, ctx.fence)
    from adapters.partnerstack.rewards import PartnerStackRewards

    owned = PartnerStackRewards.from_settings(ctx.settings, before_send=ctx.fence)
    try:
        return _push(ctx, program, owned, None)  # its HTTP client runs the fence, after the rate limiter
    finally:
        owned.close()


def _push(
    ctx: RunContext, program: Program, destination: Destination, fence: Callable[[], None] | None
) -> PushResult:
    """`push` to `destination`; `fence` runs before each request (None: the destination runs it)."""
    result = PushResult()
    store_wide = _store_wide(ctx)
    _recover_interrupted(ctx, destination, program, result)
    _adopt_mirrored(ctx, destination, program.name, result, store_wide=store_wide)
    reoffer_changed_refusals(ctx, destination, program)
    approval = ApprovalGate.open(ctx, program)  # None unless [push] approval = "required"
    progress = Progress(ctx, outbox_size(ctx, program.name) if approval is None else len(approval.allowed))
    since = lookup_since(ctx, [])
    workers = destination.concurrency
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") if workers > 1 else None
    pager = OutboxPager(program.name, BATCH_SIZE)
    try:
        with _frozen_heap():
            batch = _next_batch(ctx, pager, approval, destination, program)
            while batch is not None:
                outgoing = _mark_sending(ctx, batch, result)
                flight = Flight(destination, outgoing, pool, progress, since, fence, workers)
                try:
                    # Read and build the next batch while this one is on the wire (nothing is written).
                    batch = _next_batch(ctx, pager, approval, destination, program)
                except BaseException:
                    flight.stop()  # like a lane's failure: every lane stops after its current entry
                    raise
                finally:  # what this batch's requests got is recorded before anything propagates
                    _record_batch(ctx, flight.wait(), result)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if approval is not None:
            approval.record(ctx, program)
    if result.failed:
        ctx.notes.append(f"push: {result.failed} reward(s) refused by {destination.name}; not offered again "
                         "until the entry or the program changes")
        ctx.notes.extend(result.errors)
    result.statuses_read = read_back_status(ctx, program.name, store_wide=store_wide)
    with ctx.sessions() as session, session.begin():
        settle_statistics(session, LedgerEntry.__table__)  # the entries this push moved
    if result.held:
        ctx.notes.append(f"push: {result.held} entr(ies) held, not sent to {destination.name}")
        ctx.notes.extend(result.holds)
    log.info(
        "push finished",
        extra={"pushed": result.pushed, "recovered": result.recovered, "rejected": result.failed,
               "held": result.held},
    )
    return result


def _store_wide(ctx: RunContext) -> bool:
    """Whether the push's reads of the mirrored rewards read them all (`connector.push.marks`): a
    backfill, the demo and `sync --full` (an operator who edited the store, which no change tick
    shows) do; a scheduled sync reads what changed since the last push read them."""
    return ctx.kind != "sync" or ctx.full


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive before the batches start (the run's pull and compute, the ORM's and httpx's
    modules) are left out of the cyclic garbage collector's full passes until the push is done.

    Why: every batch allocates requests, answers and entries that live a batch, so the collector's
    oldest generation fills and each full pass walks the whole heap again, most of it the objects
    the push found there (S, measured in the push: 3 full passes of 140 k objects were 0.25 s of
    4.4 s CPU, 0.013 s frozen). Nothing is leaked: a frozen object freed by its last reference goes
    at once as ever, and a cycle among them waits for the first full pass after the push.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _recover_interrupted(ctx: RunContext, destination: Destination, program: Program, result: PushResult) -> None:
    """Entries left `sending` by a crash: record those the platform already has."""
    _record_recovered(ctx, find_landed(ctx, destination, program), result)


def _adopt_mirrored(
    ctx: RunContext, destination: Destination, program: str, result: PushResult, *, store_wide: bool
) -> None:
    """Payable entries the platform already has a reward for (the pull saw it, no entry records it):
    recorded, not sent again. A clean push costs the destination's search (and its index's upkeep,
    committed here)."""
    with ctx.sessions() as session, session.begin():
        mirrored = destination.find_mirrored(session, program, store_wide=store_wide)
        if not mirrored:
            return
        rows = session.scalars(
            select(LedgerEntry).where(*payable(program), LedgerEntry.entry_key.in_(list(mirrored)))
        ).all()
        answers = [Answer(Outgoing(e.entry_key, e.partnership_key, e.currency, e.amount_minor, {}),
                          platform_key=mirrored[e.entry_key]) for e in rows]  # fmt: skip
    _record_recovered(ctx, answers, result)


def _record_recovered(ctx: RunContext, answers: list[Answer], result: PushResult) -> None:
    if answers:
        _mark_pushed(ctx, answers, [])
    for answer in answers:
        result.recovered += 1
        result.add_amount(answer.outgoing.currency, answer.outgoing.amount_minor)
        log.info("interrupted push found on the platform",
                 extra={"entry_key": answer.outgoing.entry_key, "reward": answer.platform_key})  # fmt: skip


@dataclass
class _Batch:
    """A page of the outbox read and built, not yet marked: what would go out, and what is held."""

    outgoing: list[Outgoing]
    holds: list[tuple[str, str]]  # (entry key, why)


def _next_batch(
    ctx: RunContext, pager: OutboxPager, approval: ApprovalGate | None, destination: Destination, program: Program
) -> _Batch | None:
    """The next page of the outbox (the approved part of it, under approval), read and built without
    writing, while the batch before it is in flight; None at the end. Keeps event order.

    Why a read now and the mark later (`_mark_sending`, right before the requests): only what is
    about to be sent is ever `sending`, so a crash leaves no more for recovery to look up than
    before, while reading the entries and building their bodies (most of a batch's CPU) overlap the
    batch on the wire. What was read is what is marked: the run lock makes this push the only
    writer of the ledger while it runs, and the mark re-checks each entry's status in its WHERE.
    """
    with ctx.sessions() as session:
        while entries := pager.next(session):
            if approval is not None:
                entries = [e for e in entries if e.entry_key in approval.allowed]
            if not entries:
                continue
            batch = _Batch([], [])
            for entry, body in zip(entries, destination.bodies(session, entries, program), strict=True):
                if isinstance(body, Held):
                    batch.holds.append((entry.entry_key, body.reason))
                    continue
                batch.outgoing.append(
                    Outgoing(entry.entry_key, entry.partnership_key, entry.currency, entry.amount_minor, body)
                )
            return batch
    return None


def _mark_sending(ctx: RunContext, batch: _Batch, result: PushResult) -> list[Outgoing]:
    """Step 1 for a batch, committed right before its requests: the entries still payable become
    `sending` (one UPDATE, its WHERE re-checking the status); what it marked, in event order."""
    for entry_key, reason in batch.holds:
        result.hold(entry_key, reason)
    if not batch.outgoing:
        return []
    with ctx.sessions() as session, session.begin():
        # One UPDATE for the batch instead of the ORM's per-object flush (its bookkeeping was a
        # tenth of the push's CPU); RETURNING says which rows it took. Found by key, the status only
        # re-checked (`not_indexed`): on SQLite a status search walked the whole outbox per batch.
        marked = set(session.scalars(
            update(LedgerEntry)
            .where(LedgerEntry.entry_key.in_([o.entry_key for o in batch.outgoing]),
                   not_indexed(LedgerEntry.status) == "payable", LedgerEntry.push_state.is_distinct_from("refused"))
            .values(push_state="sending", push_attempts=func.coalesce(LedgerEntry.push_attempts, 0) + 1)
            .returning(LedgerEntry.entry_key)
            .execution_options(synchronize_session=False)
        ))  # fmt: skip
    return [o for o in batch.outgoing if o.entry_key in marked]


def _record_batch(ctx: RunContext, sent: BatchOutcome, result: PushResult) -> None:
    """Step 3 for one batch; raises the first failure after recording every answer."""
    _mark_pushed(ctx, sent.answers, sent.unsent)
    result.count_sent(sent.answers)
    if sent.error is not None:
        raise sent.error


def _mark_pushed(ctx: RunContext, answers: list[Answer], unsent: list[str]) -> None:
    """Step 3 for a batch, one transaction: what the platform has is recorded so it is never sent
    again; rejected entries stay payable with the reason; entries never sent leave `sending`."""
    now = dt.datetime.now(dt.UTC)
    pushed = [
        {"entry_key": a.outgoing.entry_key, "status": "pushed", "push_state": "sent",
         "platform_reward_key": a.platform_key, "pushed_at": now, "pushed_run_id": ctx.run_id,
         "refused_body": None}
        for a in answers if a.platform_key is not None
    ]  # fmt: skip
    rejected = [
        {"entry_key": a.outgoing.entry_key, "push_state": "refused", "refused_body": body_fingerprint(a.outgoing.body),
         "push_error": (REJECTED_PREFIX + a.rejection)[:2000]}
        for a in answers
        if a.rejection is not None
    ]  # fmt: skip
    if not (pushed or rejected or unsent):
        return
    with ctx.sessions() as session, session.begin():
        if pushed:
            # A reward accepted after an earlier rejection no longer carries that rejection.
            session.execute(update(LedgerEntry), [{**row, "push_error": None} for row in pushed])
            keys = [str(row["entry_key"]) for row in pushed]
            record_current(session, keys, Stamp(ctx.run_id, ctx.as_of, now), "pushed")
        if rejected:
            session.execute(update(LedgerEntry), rejected)
        if unsent:
            session.execute(
                update(LedgerEntry)
                .where(LedgerEntry.entry_key.in_(unsent), LedgerEntry.push_state == "sending")
                .values(push_state=None, push_attempts=LedgerEntry.push_attempts - 1)
                .execution_options(synchronize_session=False)
            )
        note_rows_changed(session, LedgerEntry.__table__, len(pushed) + len(rejected) + len(unsent))


def body_fingerprint(body: dict[str, Any]) -> str:
    """What a refusal remembers of the body it refused: a changed body is offered again."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def reoffer_changed_refusals(ctx: RunContext, destination: Destination, program: Program) -> int:
    """Refused entries whose body has changed since the refusal go back to the outbox; the rest stay
    refused (a refusal is not retried until the entry or the program changes). Returns how many."""
    with ctx.sessions() as session, session.begin():
        refused = list(session.scalars(
            select(LedgerEntry).where(LedgerEntry.program == program.name, LedgerEntry.status == "payable",
                                      LedgerEntry.push_state == "refused")
        ))  # fmt: skip
        if not refused:
            return 0
        bodies = destination.bodies(session, refused, program)
        changed = [e for e, body in zip(refused, bodies, strict=True)
                   if isinstance(body, Held) or body_fingerprint(body) != e.refused_body]  # fmt: skip
        for entry in changed:
            entry.push_state, entry.refused_body = None, None
    return len(changed)
