"""``POST /rewards``: validating a pushed reward and recording it the way PartnerStack would.

Why: pushing rewards is the connector's only write, so the sandbox validates it strictly (integer
minor-unit ``amount``, negative allowed for clawbacks; a partner that exists) and keeps everything the
client sent (``external_key``, ``description``, ``metadata``...) so a client that crashed after sending
can find its own rewards again in ``GET /rewards``.

Partner resolution: ``partnership_key`` or ``partner_key`` may hold either a partnership ``key``
(``part_...``) or its ``partner_key``; failing both, ``customer_key`` / ``customer_external_key`` name a
PartnerStack customer whose ``partnership_key`` is used.
"""

from __future__ import annotations

from typing import Any

from .collection import Collection
from .normalize_stripe import is_int


class RewardError(ValueError):
    """The body cannot become a reward; the message goes into the 400 envelope."""


def _find_partnership(partnerships: Collection, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str) or not value:
        return None
    found = partnerships.get(value)
    if isinstance(found, dict):
        return found
    found = partnerships.first_where(("partner_key",), value)
    return found if isinstance(found, dict) else None


def _find_customer(customers: Collection, body: dict[str, Any]) -> dict[str, Any] | None:
    for field, attr in (("customer_key", "key"), ("customer_key", "customer_key"),
                        ("customer_external_key", "customer_key"), ("customer_external_key", "key")):
        value = body.get(field)
        if not isinstance(value, str) or not value:
            continue
        if attr == "key":
            found = customers.get(value)
            if isinstance(found, dict):
                return found
            continue
        found = customers.first_where((attr,), value)
        if isinstance(found, dict):
            return found
    return None


def build_reward(
    body: Any,
    partnerships: Collection,
    customers: Collection,
    key: str,
    now_ms: int,
) -> dict[str, Any]:
    """The reward object to store and return; raises ``RewardError`` on an invalid body."""
    if not isinstance(body, dict):
        raise RewardError("request body must be a JSON object")
    amount = body.get("amount")
    if not is_int(amount):
        raise RewardError("amount is required and must be an integer (minor units)")
    currency = body.get("currency")
    if currency is not None and not isinstance(currency, str):
        raise RewardError("currency must be a string")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise RewardError("description must be a string")
    partnership = _find_partnership(partnerships, body.get("partnership_key")) or _find_partnership(
        partnerships, body.get("partner_key")
    )
    customer = _find_customer(customers, body)
    if partnership is None and customer is not None:
        partnership = _find_partnership(partnerships, customer.get("partnership_key")) or _find_partnership(
            partnerships, customer.get("partner_key")
        )
    if partnership is None:
        raise RewardError("partner not found: give partner_key/partnership_key of an existing partnership")
    reward: dict[str, Any] = dict(body)
    reward.update(
        key=key,
        amount=amount,
        partnership_key=partnership.get("key"),
        partner_key=partnership.get("partner_key", body.get("partner_key")),
        status=body.get("status", "approved"),
        payment_status=body.get("payment_status", "available"),
        source="api",
        created_at=now_ms,
        updated_at=now_ms,
    )
    group = partnership.get("group")
    if isinstance(group, dict):
        reward.setdefault("group", group)
    if customer is not None:
        reward.setdefault("customer_key", customer.get("key"))
        reward.setdefault(
            "customer",
            {"key": customer.get("key"), "customer_key": customer.get("customer_key"),
             "name": customer.get("name"), "email": customer.get("email")},
        )
    return reward
