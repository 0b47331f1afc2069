"""Push: every payable ledger entry becomes exactly one PartnerStack reward.

The ledger is the outbox. Exactly once comes from three commits around one request:

1. `push_state = "sending"`, `push_attempts + 1` is committed *before* the POST;
2. the POST carries an idempotency key derived from the entry key, the same on every attempt;
3. `status = "pushed"`, the platform's reward key, `push_state = "sent"` are committed after.

A crash between 1 and 3 leaves the entry `sending`. The next push first lists the rewards
on the platform and looks for the entry key embedded in each reward (`external_key`,
`metadata.entry_key`, and `[entry:…]` in the description): found means the POST landed, so
it is recorded without sending again; not found means it did not, so it is sent again
with the same idempotency key (which also covers a platform that did create it but is
slow to list it). A 4xx rejection leaves the entry payable with the reason in `note`; a
409 means the body changed under the same idempotency key — a bug — and fails the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.http.errors import AuthError, ConnectorHttpError, RecordNotFound
from connector.context import RunContext
from connector.models import Deal, LedgerEntry, Partner, Referral
from connector.programs import Program

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
    partner = session.get(Partner, entry.partner_key)
    deal_based = "deals" in program.submissions.sources
    what = f"{entry.kind} {entry.program}"
    payload: dict[str, Any] = {
        "amount": entry.amount_minor,
        "currency": entry.currency,
        "partnership_key": entry.partner_key,
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


def _outbox(session: Session, program: str) -> list[tuple[str, str]]:
    """(entry key, partner key) of every payable entry, in event order."""
    rows = session.execute(
        select(LedgerEntry.entry_key, LedgerEntry.partner_key)
        .where(LedgerEntry.program == program, LedgerEntry.status == "payable")
        # In event order, so a partner sees a refund's clawback after the reward it reverses.
        .order_by(LedgerEntry.event_at.asc().nulls_last(), LedgerEntry.created_at, LedgerEntry.entry_key)
    )
    return [(key, partner) for key, partner in rows]


@dataclass(frozen=True)
class _Outgoing:
    """What step 1 committed and step 2 sends."""

    entry_key: str
    currency: str
    amount_minor: int
    payload: dict[str, Any]


def _mark_sending(ctx: RunContext, entry_key: str, program: Program, prefix: str) -> _Outgoing | None:
    """Step 1, committed before the request; None if the entry is no longer payable.

    The payload is built from the same transaction's reads, so what is sent is what was
    marked: one transaction per entry before the request, one after.
    """
    with ctx.sessions() as session, session.begin():
        entry = session.get(LedgerEntry, entry_key, with_for_update=True)
        if entry is None or entry.status != "payable":
            return None
        entry.push_state = "sending"
        entry.push_attempts = (entry.push_attempts or 0) + 1
        return _Outgoing(entry_key, entry.currency, entry.amount_minor, build_payload(session, entry, program, prefix))


def _send(client: RewardsApi, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Step 2: the request itself (its own function so tests can interrupt around it)."""
    return client.create_reward(payload, key)


def _mark_pushed(ctx: RunContext, entry_key: str, reward_key: str) -> LedgerEntry:
    """Step 3: the platform has the reward; record it so it is never sent again."""
    with ctx.sessions() as session, session.begin():
        entry = session.get(LedgerEntry, entry_key, with_for_update=True)
        assert entry is not None
        entry.status = "pushed"
        entry.push_state = "sent"
        entry.platform_reward_key = reward_key
        entry.pushed_at = dt.datetime.now(dt.UTC)
        entry.pushed_run_id = ctx.run_id
        if entry.note and entry.note.startswith(REJECTED_PREFIX):
            entry.note = None
        session.flush()
        session.expunge(entry)
    return entry


def _mark_rejected(ctx: RunContext, entry_key: str, reason: str) -> None:
    """A 4xx: nothing was created, so the entry may be sent again later; it stays payable."""
    with ctx.sessions() as session, session.begin():
        entry = session.get(LedgerEntry, entry_key, with_for_update=True)
        assert entry is not None
        entry.push_state = None
        entry.note = (REJECTED_PREFIX + reason)[:2000]


def _reward_key(reward: dict[str, Any]) -> str:
    key = reward.get("key") or reward.get("id")
    if not isinstance(key, str) or not key:
        raise ConnectorHttpError("PartnerStack POST /rewards: reward without a key")
    return key


def _recover_interrupted(ctx: RunContext, client: RewardsApi, program: str, result: PushResult) -> set[str]:
    """Entries left `sending` by a crash: record those the platform already has. Returns the rest."""
    with ctx.sessions() as session:
        pending = session.execute(
            select(LedgerEntry.entry_key, LedgerEntry.created_at).where(
                LedgerEntry.program == program, LedgerEntry.status == "payable", LedgerEntry.push_state == "sending"
            )
        ).all()
    if not pending:
        return set()
    # The platform stamps rewards with its own clock; the run's as-of bounds it from below too.
    since = min([created for _, created in pending] + [ctx.as_of]) - _RECOVERY_SLACK
    wanted = {key for key, _ in pending}
    found: dict[str, dict[str, Any]] = {}
    for reward in client.list_rewards(min_created=since):
        for key in embedded_entry_keys(reward) & wanted:
            found.setdefault(key, reward)
    for key, reward in found.items():
        entry = _mark_pushed(ctx, key, _reward_key(reward))
        result.recovered += 1
        result.add_amount(entry.currency, entry.amount_minor)
        log.info("interrupted push found on the platform", extra={"entry_key": key, "reward": _reward_key(reward)})
    return wanted - set(found)


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


def _by_partner(outbox: list[tuple[str, str]]) -> list[list[str]]:
    """The outbox split per partner, each lane still in event order."""
    lanes: dict[str, list[str]] = {}
    for entry_key, partner_key in outbox:
        lanes.setdefault(partner_key, []).append(entry_key)
    return list(lanes.values())


def push(ctx: RunContext, program: Program, client: RewardsApi | None = None) -> PushResult:
    """Send every payable entry of `program` once; scheduled/held/reversed never leave.

    Partners are pushed in parallel (`partnerstack.push_concurrency`), each partner's
    entries one after another in event order, so a partner never sees a clawback before
    the reward it reverses. The first failure stops every lane after its current entry.
    """
    owned = client is None
    if client is None:
        from adapters.partnerstack import PartnerStackClient

        client = PartnerStackClient(ctx.settings)
    result = PushResult()
    prefix = ctx.settings.partnerstack.reward_description_prefix
    try:
        _recover_interrupted(ctx, client, program.name, result)
        with ctx.sessions() as session:
            outbox = _outbox(session, program.name)
        if outbox:
            _push_lanes(ctx, client, program, prefix, _by_partner(outbox), result, _Progress(ctx, len(outbox)))
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


def _push_lanes(
    ctx: RunContext,
    client: RewardsApi,
    program: Program,
    prefix: str,
    lanes: list[list[str]],
    result: PushResult,
    progress: _Progress,
) -> None:
    stop = threading.Event()
    result_lock = threading.Lock()

    def run_lane(lane: list[str]) -> None:
        for entry_key in lane:
            if stop.is_set():
                return
            try:
                _push_one(ctx, client, program, prefix, entry_key, result, result_lock)
            except BaseException:
                stop.set()
                raise
            progress.step()

    workers = min(ctx.settings.partnerstack.push_concurrency, len(lanes))
    if workers <= 1:
        for lane in lanes:
            run_lane(lane)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
        futures = [pool.submit(run_lane, lane) for lane in lanes]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def _push_one(
    ctx: RunContext,
    client: RewardsApi,
    program: Program,
    prefix: str,
    entry_key: str,
    result: PushResult,
    result_lock: threading.Lock,
) -> None:
    outgoing = _mark_sending(ctx, entry_key, program, prefix)
    if outgoing is None:
        return
    try:
        reward = _send(client, outgoing.payload, idempotency_key(entry_key))
    except AuthError:
        raise
    except ConnectorHttpError as exc:
        status, final = _http_status(exc)
        if status == 409:
            raise PushConflict(
                f"PartnerStack answered 409 for entry {entry_key}: the reward body changed under the same "
                "idempotency key (a bug; nothing was sent twice)"
            ) from exc
        if not final or status is None or not 400 <= status < 500:
            raise  # unknown outcome: the entry stays `sending` and the next run recovers it
        _mark_rejected(ctx, entry_key, str(exc))
        with result_lock:
            result.failed += 1
            result.errors.append(f"{entry_key}: {exc}")
        log.warning("reward rejected", extra={"entry_key": entry_key, "status": status})
        return
    _mark_pushed(ctx, entry_key, _reward_key(reward))
    with result_lock:
        result.pushed += 1
        result.add_amount(outgoing.currency, outgoing.amount_minor)
