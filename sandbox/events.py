"""Which Stripe events a change to an object produces.

Why: the connector can sync incrementally from ``/v1/events``; the sandbox must emit the same event
types Stripe would for the changes a test applies (created / updated / status transitions).
"""

from __future__ import annotations

from typing import Any

_PREFIX = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "subscription": "customer.subscription",
    "invoice": "invoice",
    "credit_note": "credit_note",
    "refund": "refund",
    "dispute": "charge.dispute",
    "invoice_payment": "invoice_payment",
}

_INVOICE_STATUS = {
    "open": "invoice.finalized",
    "paid": "invoice.paid",
    "void": "invoice.voided",
    "uncollectible": "invoice.marked_uncollectible",
}


def event_types(type_name: str, old: Any, new: Any) -> list[str]:
    """Event types for ``old -> new`` (``old`` is ``None`` for a new object)."""
    prefix = _PREFIX.get(type_name)
    if prefix is None or not isinstance(new, dict):
        return []
    status = new.get("status")
    old_status = old.get("status") if isinstance(old, dict) else None
    if type_name == "invoice_payment":
        return ["invoice_payment.paid"] if status == "paid" and old_status != "paid" else []
    types = [f"{prefix}.created" if old is None else f"{prefix}.updated"]
    if status == old_status:
        return types
    if type_name == "invoice":
        if old is None and status in ("paid", "void", "uncollectible"):
            types.append("invoice.finalized")
        extra = _INVOICE_STATUS.get(status) if isinstance(status, str) else None
        if extra:
            types.append(extra)
    elif type_name == "dispute" and status in ("won", "lost", "warning_closed"):
        types.append("charge.dispute.closed")
    elif type_name == "subscription" and status == "canceled" and old is not None:
        types.append("customer.subscription.deleted")
    elif type_name == "credit_note" and status == "void" and old is not None:
        types.append("credit_note.voided")
    return types


def previous_attributes(old: Any, new: Any) -> dict[str, Any] | None:
    """Stripe's ``data.previous_attributes``: old values of the top-level keys that changed."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return None
    changed = {key: old.get(key) for key in new if key not in old or old[key] != new[key]}
    return changed or None
