"""PartnerStack as the push destination: the documented reward body, the reward key, finding a reward again.

The outbox (`connector.push`) owns the exactly-once protocol and knows nothing of PartnerStack;
what it sends to the rewards API and reads back from it is shaped here. The body is the one
PartnerStack documents, `{"amount": <USD cents>, "description": "...", "target": {"key", "type"}}`,
filled from the entry as `mappings/partnerstack.toml` `[rewards]` says (`connector.mapping.outbound`).
PartnerStack keeps no field of ours but the description, so the description ends with the entry's
marker `[entry:<entry_key>]`: after a lost answer the reward is found by listing the target
customer's rewards since the attempt and reading that marker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.http import ConnectorHttpError
from adapters.partnerstack import PartnerStackClient
from adapters.partnerstack.deals import CustomersApi, DealCustomers
from connector.config import Settings
from connector.mapping.outbound import AMOUNT_FIELDS, RewardBody, load_reward_body
from connector.push.destination import Held
from connector.rules.program import Program
from connector.store.models import Deal, LedgerEntry, PlatformReward, Referral

_ENTRY_TAG = re.compile(r"\[entry:([^\]]+)\]")
REWARD_CURRENCY = "usd"  # PartnerStack documents rewards in USD cents only


class RewardsApi(CustomersApi, Protocol):
    """The calls a push makes (`PartnerStackClient` has them all)."""

    def list_rewards(
        self, min_created: dt.datetime | None = None, customer_key: str | None = None
    ) -> list[dict[str, Any]]: ...

    def create_reward(self, payload: dict[str, Any]) -> dict[str, Any]: ...


def entry_amount(entry: LedgerEntry, spec: RewardBody, currency: str = REWARD_CURRENCY) -> int | Held:
    """The reward's amount: the first amount field the entry has, if it is in the reward currency.

    An amount in another currency is never sent as if it were USD cents (¥10,000 is not $100.00).
    """
    for field in spec.amount:
        value = getattr(entry, field, None)
        if value is None:
            continue
        own = str(getattr(entry, AMOUNT_FIELDS[field], "") or "").lower()
        if own != currency:
            return Held(f"{own.upper()} entry: PartnerStack pays rewards in {currency.upper()} cents; "
                        f"held until the entry has a {currency.upper()} payout amount")
        return int(value)
    return Held("the entry has none of the amount fields the [rewards] mapping names")


def _is_deal(session: Session, entry: LedgerEntry, program: Program) -> Deal | None:
    key = entry.customer_key or ""
    if "deals" not in program.submissions.sources and session.get(Referral, key) is not None:
        return None
    return session.get(Deal, key)


class BodyBuilder:
    """Entry → documented body, as the `[rewards]` mapping says; deals resolved to their customers."""

    def __init__(self, spec: RewardBody, prefix: str, deals: DealCustomers, currency: str = REWARD_CURRENCY) -> None:
        self.spec, self.prefix, self.deals, self.currency = spec, prefix, deals, currency

    def target(self, session: Session, entry: LedgerEntry, program: Program) -> str | Held:
        key = getattr(entry, self.spec.target_key)
        if self.spec.target_key == "customer_key":
            deal = _is_deal(session, entry, program)
            if deal is not None:
                if self.spec.deals == "hold":
                    return Held(f"entry for deal {deal.key}: the [rewards] mapping holds deal entries")
                return self.deals.target(session, deal)
        return key if key else Held(f"the entry has no {self.spec.target_key} to target")

    def body(self, session: Session, entry: LedgerEntry, program: Program) -> dict[str, Any] | Held:
        amount = entry_amount(entry, self.spec, self.currency)
        if isinstance(amount, Held):
            return amount
        target = self.target(session, entry, program)
        if isinstance(target, Held):
            return target
        values = {"prefix": self.prefix, "kind": entry.kind, "program": entry.program,
                  "customer_key": entry.customer_key, "partnership_key": entry.partnership_key,
                  "entry_key": entry.entry_key, "note": entry.note}  # fmt: skip
        return {"amount": amount, "description": self.spec.describe(values),
                "target": {"key": target, "type": self.spec.target_type}}  # fmt: skip


def embedded_entry_keys(reward: dict[str, Any]) -> set[str]:
    """The entry keys a reward's description carries (`[entry:<key>]`)."""
    desc = reward.get("description")
    return set(_ENTRY_TAG.findall(desc)) if isinstance(desc, str) else set()


def reward_key(reward: dict[str, Any]) -> str:
    """PartnerStack's key of a reward (`key`, or `id` in older answers)."""
    key = reward.get("key") or reward.get("id")
    if not isinstance(key, str) or not key:
        raise ConnectorHttpError("PartnerStack POST /rewards: reward without a key")
    return key


def _preload(session: Session, entries: Sequence[LedgerEntry]) -> list[Any]:
    """Load what the body builder looks up into the session, so its `session.get`s cost no query.

    Returns the loaded objects: the identity map holds them weakly, the caller keeps them alive.
    """
    customers = {e.customer_key for e in entries if e.customer_key}
    loaded: list[Any] = []
    if customers:
        loaded += session.scalars(select(Referral).where(Referral.key.in_(customers)))
        loaded += session.scalars(select(Deal).where(Deal.key.in_(customers)))
    return loaded


def _by_target(bodies: Mapping[str, dict[str, Any]]) -> dict[str | None, set[str]]:
    """Entry keys grouped by the customer their reward targets (None: not a customer target)."""
    groups: dict[str | None, set[str]] = {}
    for entry_key, body in bodies.items():
        target = body.get("target") or {}
        customer = target.get("key") if target.get("type") == "customer" else None
        groups.setdefault(customer, set()).add(entry_key)
    return groups


class PartnerStackRewards:
    """Ledger entries as PartnerStack rewards: a `connector.push.Destination`."""

    name = "PartnerStack"

    def __init__(self, api: RewardsApi, *, description_prefix: str, concurrency: int,
                 spec: RewardBody, currency: str = REWARD_CURRENCY) -> None:  # fmt: skip
        self.api = api
        self.concurrency = concurrency
        self.builder = BodyBuilder(spec, description_prefix, DealCustomers(api), currency)

    @classmethod
    def from_settings(cls, settings: Settings, before_send: Callable[[], None] | None = None) -> PartnerStackRewards:
        """The destination a run pushes to, with its own client (`close` releases it); `before_send`
        runs right before each reward request leaves (the run's fence: it raises to stop it)."""
        ps = settings.partnerstack
        api = PartnerStackClient(settings)
        api.http.before_write = before_send
        return cls(
            api,
            description_prefix=ps.reward_description_prefix,
            concurrency=ps.push_concurrency,
            spec=load_reward_body(settings),
            currency=ps.reward_currency,  # programs.md "Payout currency"
        )

    def close(self) -> None:
        close = getattr(self.api, "close", None)
        if close is not None:
            close()

    def bodies(
        self, session: Session, entries: Sequence[LedgerEntry], program: Program
    ) -> list[dict[str, Any] | Held]:
        keep_alive = _preload(session, entries)
        bodies = [self.builder.body(session, entry, program) for entry in entries]
        del keep_alive
        return bodies

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.api.create_reward(body)

    def platform_key(self, answer: dict[str, Any]) -> str:
        return reward_key(answer)

    def find_mirrored(self, session: Session) -> dict[str, str]:
        """Entry key → reward key for the pulled rewards whose marker names an entry that no entry
        records yet (one's record was lost, e.g. a hand-deleted entry recomputed): no request."""
        recorded = select(LedgerEntry.entry_key).where(LedgerEntry.platform_reward_key == PlatformReward.key)
        rows = session.execute(
            select(PlatformReward.key, PlatformReward.description).where(
                PlatformReward.description.like("%[entry:%"), ~recorded.exists()
            )
        )
        found: dict[str, str] = {}
        for key, description in rows:
            for entry_key in embedded_entry_keys({"description": description}):
                found.setdefault(entry_key, key)
        return found

    def find_pushed(self, bodies: Mapping[str, dict[str, Any]], since: dt.datetime) -> dict[str, str]:
        """Lists each target customer's rewards created since `since` and reads their markers."""
        found: dict[str, str] = {}
        for customer, wanted in _by_target(bodies).items():
            for reward in self.api.list_rewards(min_created=since, customer_key=customer):
                for key in embedded_entry_keys(reward) & wanted:
                    found.setdefault(key, reward_key(reward))
        return found
