"""``POST /rewards`` and ``POST /deals/{key}/convert`` as PartnerStack documents them.

Why: pushing rewards is the connector's only write, and the sandbox is where the connector proves it
speaks the platform's language, so the sandbox takes exactly the documented body (``../shared/spec/
partnerstack.md``): ``{"amount": <integer USD cents>, "description": "...", "target": {"key": "...",
"type": "customer" | "transaction"}}``. A missing or unknown field, a non-integer amount or a target
that does not exist is a 400; a negative amount is taken as sent (PartnerStack documents no clawback
API, so nothing is promised either way). The stored reward has the listed shape: ``reward_status``,
a nested ``customer`` (``key``, ``email``, ``name``, ``external_key``), ``partnership``,
``transaction``, ``invoice``, ``amount`` in USD cents, ``created_at`` in epoch ms. There is no
``external_key`` or ``metadata``: a client recognises its rewards by what it wrote in
``description``.
``Idempotency-Key`` is ignored, as PartnerStack documents none: a repeated POST is a second reward.
"""

from __future__ import annotations

from typing import Any

from .collection import Collection
from .normalize_stripe import is_int

REWARD_FIELDS = frozenset({"amount", "description", "target"})
TARGET_FIELDS = frozenset({"key", "type"})
TARGET_TYPES = ("customer", "transaction")
CONVERT_FIELDS = frozenset({"email", "customer_key"})


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


def _exact_fields(body: Any, allowed: frozenset[str], required: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RewardError(f"{what} must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RewardError(f"{what}: unknown field(s) {', '.join(unknown)}")
    missing = sorted(required - set(body))
    if missing:
        raise RewardError(f"{what}: missing required field(s) {', '.join(missing)}")
    return body


def _customer_view(customer: dict[str, Any]) -> dict[str, Any]:
    return {"key": customer.get("key"), "email": customer.get("email"), "name": customer.get("name"),
            "external_key": customer.get("customer_key")}


def _partnership_view(partnership: dict[str, Any] | None) -> dict[str, Any] | None:
    if partnership is None:
        return None
    return {"key": partnership.get("key"), "partner_key": partnership.get("partner_key"),
            "email": partnership.get("email")}


def _target(body: dict[str, Any], ps: dict[str, Collection]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The customer and the transaction a reward's target names; 400 when it names nothing."""
    target = _exact_fields(body["target"], TARGET_FIELDS, TARGET_FIELDS, "target")
    key, kind = target["key"], target["type"]
    if kind not in TARGET_TYPES:
        raise RewardError(f"target.type must be one of {', '.join(TARGET_TYPES)}")
    if not isinstance(key, str) or not key:
        raise RewardError("target.key must be a non-empty string")
    if kind == "transaction":
        transaction = ps["transactions"].get(key)
        if not isinstance(transaction, dict):
            raise RewardError(f"target transaction {key} not found")
        customer = ps["customers"].get(transaction.get("customer_key"))
        return (customer if isinstance(customer, dict) else None), transaction
    customer = ps["customers"].get(key)
    if not isinstance(customer, dict):
        raise RewardError(f"target customer {key} not found")
    return customer, None


def build_reward(body: Any, ps: dict[str, Collection], key: str, now_ms: int) -> dict[str, Any]:
    """The reward to store and return for a documented body; raises ``RewardError``."""
    body = _exact_fields(body, REWARD_FIELDS, frozenset({"amount", "target"}), "request body")
    if not is_int(body["amount"]):
        raise RewardError("amount must be an integer (USD cents)")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise RewardError("description must be a string")
    customer, transaction = _target(body, ps)
    partnership = None
    if customer is not None:
        partnership = _find_partnership(ps["partnerships"], customer.get("partnership_key")) or _find_partnership(
            ps["partnerships"], customer.get("partner_key"))
    return {
        "key": key,
        "amount": body["amount"],
        "currency": "usd",
        "description": description,
        "reward_status": "approved",
        "payment_status": None,
        "source": "api",
        "customer": _customer_view(customer) if customer is not None else None,
        "customer_key": customer.get("key") if customer is not None else None,
        "partnership": _partnership_view(partnership),
        "partnership_key": partnership.get("key") if partnership is not None else None,
        "transaction": {"key": transaction.get("key")} if transaction is not None else None,
        "invoice": None,
        "created_at": now_ms,
        "updated_at": now_ms,
    }


def convert_deal(deal: Any, body: Any, customers: Collection, key: str, now_ms: int) -> dict[str, Any]:
    """The customer a deal becomes (`POST /deals/{key}/convert`); raises ``RewardError``."""
    body = _exact_fields(body, CONVERT_FIELDS, frozenset({"email"}), "request body")
    email, customer_key = body["email"], body.get("customer_key")
    if not isinstance(email, str) or "@" not in email:
        raise RewardError("email must be an email address")
    if customer_key is not None and (not isinstance(customer_key, str) or not customer_key):
        raise RewardError("customer_key must be a non-empty string")
    if not isinstance(deal, dict):
        raise RewardError("deal not found")
    if deal.get("customer_key"):
        raise RewardError(f"deal {deal.get('key')} is already converted")
    if customer_key is not None and customers.first_where(("customer_key",), customer_key) is not None:
        raise RewardError(f"a customer with customer_key {customer_key} already exists")
    return {
        "key": key, "customer_key": customer_key or key, "email": email, "name": deal.get("account_name")
        or deal.get("name"), "partnership_key": deal.get("partnership_key"), "partner_key": deal.get("partner_key"),
        "deal_key": deal.get("key"), "provider_key": deal.get("external_key"), "test": False,
        "created_at": now_ms, "updated_at": now_ms,
    }

