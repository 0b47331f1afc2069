"""Push: every payable ledger entry becomes exactly one PartnerStack reward.

The ledger is the outbox. Exactly once comes from three commits around the requests, taken a
batch of entries at a time (one transaction per batch on each side, not per entry):

1. `push_state = "sending"`, `push_attempts + 1` is committed for the batch *before* any POST;
2. each POST carries an idempotency key derived from the entry key, the same on every attempt;
3. `status = "pushed"`, the platform's reward key, `push_state = "sent"` are committed after,
   for every entry of the batch that got an answer; entries the batch never reached (a lane
   stopped by another lane's failure) go back to `push_state = NULL`.

A crash between 1 and 3 leaves entries `sending`. The next push first lists the rewards on
the platform and looks for the entry key embedded in each reward (`external_key`,
`metadata.entry_key`, and `[entry:…]` in the description): found means the POST landed, so
it is recorded without sending again; not found means it did not, so it is sent again with
the same idempotency key (which also covers a platform that did create it but is slow to
list it). A 4xx rejection leaves the entry payable with the reason in `note`; a 409 means
the body changed under the same idempotency key — a bug — and fails the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, literal, select, tuple_, update
from sqlalchemy.orm import Session

from adapters.http.errors import AuthError, ConnectorHttpError, RecordNotFound
from connector.context import RunContext
from connector.rules.program import Program
from connector.store.models import Deal, LedgerEntry, Partner, Referral

log = logging.getLogger(__name__)

REJECTED_PREFIX = "push rejected: "
# How far before an entry's creation a reward for it may be listed (clock skew between hosts).
_RECOVERY_SLACK = dt.timedelta(days=1)
_ENTRY_TAG = re.compile(r"\[entry:([^\]]+)\]")
# The HTTP client says "failed: 400 …" for a final 4xx and "gave up … HTTP 409" after retrying.
_FINAL_STATUS = re.compile(r"\bfailed: (\d{3})\b")
_RETRIED_STATUS = re.compile(r"\bHTTP (\d{3})\b")


class RewardsApi(Protocol):
    def list_rewards(self, min_created: dt.datetime | None = None) -> list[dict[str, Any]]: ...

    def create_reward(self, payload: dict[str, Any], idempotency_key: str) -> dict[str, Any]: ...


class PushConflict(Exception):
    """409 on a create: the same idempotency key came with a different body. A bug: stop."""


@dataclass
class CurrencyTotals:
    """Pushed amounts in minor units; negatives (clawbacks) kept apart so both stay counters."""

    positive: int = 0
    negative: int = 0

    @property
    def net(self) -> int:
        return self.positive - self.negative


@dataclass
class PushResult:
    pushed: int = 0  # sent and accepted in this run
    recovered: int = 0  # found already on the platform after an interrupted push
    failed: int = 0  # rejected with a 4xx; still payable, reason in `note`
    amounts: dict[str, CurrencyTotals] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add_amount(self, currency: str, amount_minor: int) -> None:
        totals = self.amounts.setdefault(currency, CurrencyTotals())
        if amount_minor >= 0:
            totals.positive += amount_minor
        else:
            totals.negative += -amount_minor


def idempotency_key(entry_key: str) -> str:
    """Stable across attempts, runs and hosts: the entry key is the ledger's primary key."""
    return hashlib.sha256(entry_key.encode("utf-8")).hexdigest()


def embedded_entry_keys(reward: dict[str, Any]) -> set[str]:
    """Every entry key a reward carries, wherever this connector (or a person) put it."""
    keys: set[str] = set()
    ext = reward.get("external_key")
    if isinstance(ext, str) and ext:
        keys.add(ext)
    meta = reward.get("metadata") or reward.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("entry_key"), str):
        keys.add(meta["entry_key"])
    desc = reward.get("description")
    if isinstance(desc, str):
        keys.update(_ENTRY_TAG.findall(desc))
    return keys


def build_payload(session: Session, entry: LedgerEntry, program: Program, prefix: str) -> dict[str, Any]:
    """The create-reward body; deterministic, since a changed body under one key is a 409."""
    partner = session.get(Partner, entry.partnership_key)
    deal_based = "deals" in program.submissions.sources
    what = f"{entry.kind} {entry.program}"
    payload: dict[str, Any] = {
        "amount": entry.amount_minor,
        "currency": entry.currency,
        "partnership_key": entry.partnership_key,
        "external_key": entry.entry_key,
        "metadata": {
            "entry_key": entry.entry_key,
            "program": entry.program,
            "kind": entry.kind,
            "sources": list(entry.sources or []),
        },
    }
    if partner is not None and partner.partner_key:
        payload["partner_key"] = partner.partner_key
    if deal_based or session.get(Referral, entry.customer_key or "") is None:
        deal = session.get(Deal, entry.customer_key or "")
        if deal is not None or deal_based:
            payload["metadata"]["deal_key"] = entry.customer_key
            what += f" deal {entry.customer_key}"
    else:
        payload["customer_key"] = entry.customer_key
    payload["description"] = f"{prefix}: {what} [entry:{entry.entry_key}]"
    return payload


def _http_status(exc: BaseException) -> tuple[int | None, bool]:
    """(status, final): final means the platform refused the request outright (not after retries)."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status, True
    if isinstance(exc, RecordNotFound):
        return 404, True
    if match := _FINAL_STATUS.search(str(exc)):
        return int(match.group(1)), True
    if match := _RETRIED_STATUS.search(str(exc)):
        return int(match.group(1)), False
    return None, False


_EVENT_ORDER = (LedgerEntry.event_at, LedgerEntry.created_at, LedgerEntry.entry_key)


def _payable(program: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The outbox: the program's entries waiting to be sent (`ix_ledger_outbox` leads with these)."""
    return LedgerEntry.program == program, LedgerEntry.status == "payable"


def _outbox_size(ctx: RunContext, program: str) -> int:
    with ctx.sessions() as session:
        count = session.scalar(select(func.count()).select_from(LedgerEntry).where(*_payable(program)))
    return int(count or 0)


def _outbox_pages(ctx: RunContext, program: str, size: int) -> Iterator[list[str]]:
    """The keys of the payable entries in event order, `size` at a time, each page a fresh query.

    In event order so a partner sees a refund's clawback after the reward it reverses; undated
    entries come last. Keyset paging on `ix_ledger_outbox` instead of one list of every key:
    memory stays one page however long the outbox (790 k entries at L), and no read transaction
    stays open for the hours a large push takes. An entry a batch leaves payable (rejected) is
    behind the cursor, so it is not offered twice in one run.
    """
    payable = _payable(program)
    yield from _keyset(ctx, (*payable, LedgerEntry.event_at.is_not(None)), _EVENT_ORDER, size)
    yield from _keyset(ctx, (*payable, LedgerEntry.event_at.is_(None)), _EVENT_ORDER[1:], size)


def _keyset(ctx: RunContext, where: tuple[Any, ...], order: tuple[Any, ...], size: int) -> Iterator[list[str]]:
    """Entry keys matching `where` in `order` (ending with the unique entry key), a page at a time."""
    after: tuple[Any, ...] | None = None
    while True:
        query = select(*order).where(*where)
        if after is not None:
            cursor = tuple_(*(literal(value, column.type) for value, column in zip(after, order, strict=True)))
            query = query.where(tuple_(*order) > cursor)
        with ctx.sessions() as session:
            rows = session.execute(query.order_by(*order).limit(size)).all()
        if rows:
            yield [row.entry_key for row in rows]
        if len(rows) < size:
            return
        after = tuple(rows[-1])


BATCH_SIZE = 500
"""Entries marked `sending` (and recorded afterwards) per transaction. A crash re-checks at most
this many entries against the platform; a module constant so tests can shrink it."""


@dataclass(frozen=True)
class _Outgoing:
    """What step 1 committed and step 2 sends."""

    entry_key: str
    partner_key: str
    currency: str
    amount_minor: int
    payload: dict[str, Any]


@dataclass
class _Answer:
    """What came back for one entry: a reward, a 4xx rejection, or nothing (never sent)."""

    outgoing: _Outgoing
    reward_key: str | None = None
    rejection: str | None = None


def _preload(session: Session, entries: list[LedgerEntry]) -> list[Any]:
    """Load what `build_payload` looks up into the session, so its `session.get`s cost no query.

    Returns the loaded objects: the identity map holds them weakly, the caller keeps them alive.
    """
    partners = {e.partnership_key for e in entries}
    customers = {e.customer_key for e in entries if e.customer_key}
    loaded: list[Any] = list(session.scalars(select(Partner).where(Partner.key.in_(partners))))
    if customers:
        loaded += session.scalars(select(Referral).where(Referral.key.in_(customers)))
        loaded += session.scalars(select(Deal).where(Deal.key.in_(customers)))
    return loaded


def _mark_sending(ctx: RunContext, entry_keys: list[str], program: Program, prefix: str) -> list[_Outgoing]:
    """Step 1 for a batch, committed before any request; entries no longer payable are left out.

    The payloads are built from the same transaction's reads, so what is sent is what was
    marked. The result keeps the order of `entry_keys` (event order).
    """
    with ctx.sessions() as session, session.begin():
        # By primary key alone, status checked here: with `status = 'payable'` in the WHERE,
        # SQLite's planner walks the status index over every payable entry (3 s a batch at L).
        found = {
            e.entry_key: e
            for e in session.scalars(
                select(LedgerEntry).where(LedgerEntry.entry_key.in_(entry_keys)).with_for_update()
            )
            if e.status == "payable"
        }
        keep_alive = _preload(session, list(found.values()))
        out: list[_Outgoing] = []
        for key in entry_keys:
            entry = found.get(key)
            if entry is None:
                continue
            entry.push_state = "sending"
            entry.push_attempts = (entry.push_attempts or 0) + 1
            payload = build_payload(session, entry, program, prefix)
            out.append(_Outgoing(key, entry.partnership_key, entry.currency, entry.amount_minor, payload))
        del keep_alive
        return out


def _send(client: RewardsApi, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Step 2: the request itself (its own function so tests can interrupt around it)."""
    return client.create_reward(payload, key)


def _mark_pushed(ctx: RunContext, answers: list[_Answer], unsent: list[str]) -> None:
    """Step 3 for a batch, one transaction: what the platform has is recorded so it is never sent
    again; rejected entries stay payable with the reason; entries never sent leave `sending`."""
    now = dt.datetime.now(dt.UTC)
    pushed = [
        {"entry_key": a.outgoing.entry_key, "status": "pushed", "push_state": "sent",
         "platform_reward_key": a.reward_key, "pushed_at": now, "pushed_run_id": ctx.run_id}
        for a in answers if a.reward_key is not None
    ]  # fmt: skip
    rejected = [
        {"entry_key": a.outgoing.entry_key, "push_state": None, "note": (REJECTED_PREFIX + a.rejection)[:2000]}
        for a in answers
        if a.rejection is not None
    ]
    if not (pushed or rejected or unsent):
        return
    with ctx.sessions() as session, session.begin():
        if pushed:
            session.execute(update(LedgerEntry), pushed)
            # A reward accepted after an earlier rejection no longer carries that rejection.
            session.execute(
                update(LedgerEntry)
                .where(
                    LedgerEntry.entry_key.in_([row["entry_key"] for row in pushed]),
                    LedgerEntry.note.like(REJECTED_PREFIX + "%"),
                )
                .values(note=None)
                .execution_options(synchronize_session=False)
            )
        if rejected:
            session.execute(update(LedgerEntry), rejected)
        if unsent:
            session.execute(
                update(LedgerEntry)
                .where(LedgerEntry.entry_key.in_(unsent), LedgerEntry.push_state == "sending")
                .values(push_state=None, push_attempts=LedgerEntry.push_attempts - 1)
                .execution_options(synchronize_session=False)
            )


def _reward_key(reward: dict[str, Any]) -> str:
    key = reward.get("key") or reward.get("id")
    if not isinstance(key, str) or not key:
        raise ConnectorHttpError("PartnerStack POST /rewards: reward without a key")
    return key


def _recover_interrupted(ctx: RunContext, client: RewardsApi, program: str, result: PushResult) -> set[str]:
    """Entries left `sending` by a crash: record those the platform already has. Returns the rest."""
    with ctx.sessions() as session:
        pending = session.execute(
            select(
                LedgerEntry.entry_key, LedgerEntry.created_at, LedgerEntry.partnership_key,
                LedgerEntry.currency, LedgerEntry.amount_minor,
            ).where(*_payable(program), LedgerEntry.push_state == "sending")
        ).all()  # fmt: skip
    if not pending:
        return set()
    # The platform stamps rewards with its own clock; the run's as-of bounds it from below too.
    since = min([row.created_at for row in pending] + [ctx.as_of]) - _RECOVERY_SLACK
    wanted = {row.entry_key: row for row in pending}
    found: dict[str, dict[str, Any]] = {}
    for reward in client.list_rewards(min_created=since):
        for key in embedded_entry_keys(reward) & wanted.keys():
            found.setdefault(key, reward)
    answers = []
    for key, reward in found.items():
        row = wanted[key]
        known = _Outgoing(key, row.partnership_key, row.currency, row.amount_minor, {})
        answers.append(_Answer(known, reward_key=_reward_key(reward)))
    _mark_pushed(ctx, answers, [])
    for answer in answers:
        result.recovered += 1
        result.add_amount(answer.outgoing.currency, answer.outgoing.amount_minor)
        log.info("interrupted push found on the platform",
                 extra={"entry_key": answer.outgoing.entry_key, "reward": answer.reward_key})  # fmt: skip
    return set(wanted) - set(found)


class _Progress:
    """Counts finished entries across worker threads and reports them through the run's hook."""

    def __init__(self, ctx: RunContext, total: int) -> None:
        self.hook: Callable[[str, int, int | None], None] | None = ctx.progress
        self.total = total
        self.done = 0
        self.lock = threading.Lock()

    def step(self) -> None:
        with self.lock:
            self.done += 1
            if self.hook is not None:
                self.hook("push", self.done, self.total)


def _by_partner(outgoing: list[_Outgoing]) -> list[list[_Outgoing]]:
    """A batch split per partner, each lane still in event order."""
    lanes: dict[str, list[_Outgoing]] = {}
    for item in outgoing:
        lanes.setdefault(item.partner_key, []).append(item)
    return list(lanes.values())


def push(ctx: RunContext, program: Program, client: RewardsApi | None = None) -> PushResult:
    """Send every payable entry of `program` once; scheduled/held/reversed never leave.

    The outbox goes out in batches of `BATCH_SIZE` entries, one batch after another. Within a
    batch, partners are pushed in parallel (`partnerstack.push_concurrency`), each partner's
    entries one after another in event order, so a partner never sees a clawback before the
    reward it reverses. The first failure stops every lane after its current entry; what was
    answered is recorded before the failure is raised.
    """
    owned = client is None
    if client is None:
        from adapters.partnerstack import PartnerStackClient

        client = PartnerStackClient(ctx.settings)
    result = PushResult()
    prefix = ctx.settings.partnerstack.reward_description_prefix
    try:
        _recover_interrupted(ctx, client, program.name, result)
        progress = _Progress(ctx, _outbox_size(ctx, program.name))
        workers = ctx.settings.partnerstack.push_concurrency
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") if workers > 1 else None
        try:
            for page in _outbox_pages(ctx, program.name, BATCH_SIZE):
                outgoing = _mark_sending(ctx, page, program, prefix)
                _push_batch(ctx, client, outgoing, pool, result, progress)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
    finally:
        if owned:
            close = getattr(client, "close", None)
            if close is not None:
                close()
    if result.failed:
        ctx.notes.append(f"push: {result.failed} reward(s) rejected by PartnerStack; entries stay payable")
        ctx.notes.extend(result.errors[:20])
    log.info(
        "push finished",
        extra={"pushed": result.pushed, "recovered": result.recovered, "rejected": result.failed},
    )
    return result


@dataclass
class _Lane:
    """One partner's entries of a batch and what became of them."""

    items: list[_Outgoing]
    answers: list[_Answer] = field(default_factory=list)
    in_doubt: str | None = None  # the entry whose request failed with an unknown outcome
    error: BaseException | None = None


def _push_batch(
    ctx: RunContext,
    client: RewardsApi,
    outgoing: list[_Outgoing],
    pool: ThreadPoolExecutor | None,
    result: PushResult,
    progress: _Progress,
) -> None:
    """Steps 2 and 3 for one batch; raises the first failure after recording every answer."""
    stop = threading.Event()

    def run_lane(lane: _Lane) -> None:
        for item in lane.items:
            if stop.is_set():
                return
            try:
                lane.answers.append(_send_one(client, item))
            except BaseException as exc:  # recorded below, then raised
                lane.in_doubt, lane.error = item.entry_key, exc
                stop.set()
                return
            progress.step()

    lanes = [_Lane(items) for items in _by_partner(outgoing)]
    if pool is None or len(lanes) == 1:
        for lane in lanes:
            run_lane(lane)
    else:
        for future in [pool.submit(run_lane, lane) for lane in lanes]:
            future.result()
    answers = [a for lane in lanes for a in lane.answers]
    # The entry whose request failed stays `sending` (the platform may have it); what no lane
    # reached goes back, so a stopped run does not leave a whole batch for recovery to check.
    settled = {a.outgoing.entry_key for a in answers} | {lane.in_doubt for lane in lanes if lane.in_doubt}
    _mark_pushed(ctx, answers, [o.entry_key for o in outgoing if o.entry_key not in settled])
    for answer in answers:
        if answer.reward_key is not None:
            result.pushed += 1
            result.add_amount(answer.outgoing.currency, answer.outgoing.amount_minor)
        elif answer.rejection is not None:
            result.failed += 1
            result.errors.append(f"{answer.outgoing.entry_key}: {answer.rejection}")
    errors = [lane.error for lane in lanes if lane.error is not None]
    if errors:
        raise errors[0]


def _send_one(client: RewardsApi, item: _Outgoing) -> _Answer:
    """One POST: the reward, or a 4xx rejection; anything else raises (its outcome is unknown)."""
    try:
        reward = _send(client, item.payload, idempotency_key(item.entry_key))
    except AuthError:
        raise
    except ConnectorHttpError as exc:
        status, final = _http_status(exc)
        if status == 409:
            raise PushConflict(
                f"PartnerStack answered 409 for entry {item.entry_key}: the reward body changed under the same "
                "idempotency key (a bug; nothing was sent twice)"
            ) from exc
        if not final or status is None or not 400 <= status < 500:
            raise  # unknown outcome: the entry stays `sending` and the next run recovers it
        log.warning("reward rejected", extra={"entry_key": item.entry_key, "status": status})
        return _Answer(item, rejection=str(exc))
    return _Answer(item, reward_key=_reward_key(reward))
