"""PartnerStack as the push destination: the reward body, the reward key, finding a reward again.

The outbox (`connector.push`) owns the exactly-once protocol and knows nothing of PartnerStack;
what it sends to the rewards API and reads back from it is shaped here. Each body carries its
entry key three times (`external_key`, `metadata.entry_key`, `[entry:…]` in the description),
so a reward stays findable even if PartnerStack or a person drops one of them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.http import ConnectorHttpError
from adapters.partnerstack import PartnerStackClient
from connector.config import Settings
from connector.rules.program import Program
from connector.store.models import Deal, LedgerEntry, Partner, Referral

_ENTRY_TAG = re.compile(r"\[entry:([^\]]+)\]")


class RewardsApi(Protocol):
    """The two calls of the rewards API a push makes (`PartnerStackClient` has both)."""

    def list_rewards(self, min_created: dt.datetime | None = None) -> list[dict[str, Any]]: ...

    def create_reward(self, payload: dict[str, Any], idempotency_key: str) -> dict[str, Any]: ...


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


def reward_key(reward: dict[str, Any]) -> str:
    """PartnerStack's key of a reward (`key`, or `id` in older answers)."""
    key = reward.get("key") or reward.get("id")
    if not isinstance(key, str) or not key:
        raise ConnectorHttpError("PartnerStack POST /rewards: reward without a key")
    return key


def _preload(session: Session, entries: Sequence[LedgerEntry]) -> list[Any]:
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


class PartnerStackRewards:
    """Ledger entries as PartnerStack rewards: a `connector.push.Destination`."""

    name = "PartnerStack"

    def __init__(self, api: RewardsApi, *, description_prefix: str, concurrency: int) -> None:
        self.api = api
        self.description_prefix = description_prefix
        self.concurrency = concurrency

    @classmethod
    def from_settings(cls, settings: Settings) -> PartnerStackRewards:
        """The destination a run pushes to, with its own client (`close` releases it)."""
        ps = settings.partnerstack
        return cls(
            PartnerStackClient(settings),
            description_prefix=ps.reward_description_prefix,
            concurrency=ps.push_concurrency,
        )

    def close(self) -> None:
        close = getattr(self.api, "close", None)
        if close is not None:
            close()

    def bodies(self, session: Session, entries: Sequence[LedgerEntry], program: Program) -> list[dict[str, Any]]:
        keep_alive = _preload(session, entries)
        bodies = [build_payload(session, entry, program, self.description_prefix) for entry in entries]
        del keep_alive
        return bodies

    def send(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self.api.create_reward(body, idempotency_key)

    def platform_key(self, answer: dict[str, Any]) -> str:
        return reward_key(answer)

    def find_pushed(self, entry_keys: Collection[str], since: dt.datetime) -> dict[str, str]:
        """Lists the rewards created since `since` and reads the entry keys each one carries."""
        wanted = set(entry_keys)
        found: dict[str, dict[str, Any]] = {}
        for reward in self.api.list_rewards(min_created=since):
            for key in embedded_entry_keys(reward) & wanted:
                found.setdefault(key, reward)
        return {key: reward_key(reward) for key, reward in found.items()}
