"""Stripe records as the API (pinned version, basil or later) sends them, stored sparse.

Why: scenarios leave out what Stripe always computes (``object``, ``livemode``, ``amount_remaining``,
the ``lines`` list object...). This module fills what must be derived from the record itself; the
long tail of always-null keys is merged in at render time (``render.py``) to keep storage small.
Anything the sandbox cannot interpret is kept exactly as given, so malformed-input tests see it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .stripe_defaults import HAS_LIVEMODE
from .timeutil import is_number, to_seconds
from .walk import convert_times

# Scenario section name -> Stripe object type.
TYPES: dict[str, str] = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "credit_notes": "credit_note",
    "refunds": "refund",
    "disputes": "dispute",
    "invoice_payments": "invoice_payment",
    "charges": "charge",
    "events": "event",
}

TIME_KEYS = frozenset({
    "created", "updated", "start", "end", "finalized_at", "marked_uncollectible_at", "paid_at",
    "voided_at", "canceled_at", "due_date", "effective_at", "ended_at", "start_date", "trial_start",
    "trial_end", "current_period_start", "current_period_end", "billing_cycle_anchor", "cancel_at",
    "period_start", "period_end", "next_payment_attempt", "due_by", "webhooks_delivered_at",
    "automatically_finalizes_at", "resumes_at", "expires_at", "close_date",
})
_SKIP = frozenset({"metadata"})

# Fields computed from others: dropped on a merge that touches an input so they are recomputed.
DERIVED: dict[str, dict[str, tuple[str, ...]]] = {
    "invoice": {
        "amount_remaining": ("amount_due", "amount_paid"),
        "total_excluding_tax": ("total", "total_taxes"),
        "subtotal_excluding_tax": ("subtotal", "total_taxes"),
        "effective_at": ("status_transitions",),
    },
    "invoice_payment": {"amount_requested": ("amount_paid",)},
}

_INVOICE_TRANSITIONS = ("finalized_at", "marked_uncollectible_at", "paid_at", "voided_at")
_PAYMENT_TRANSITIONS = ("canceled_at", "paid_at")

InvoiceLookup = Callable[[Any], "dict[str, Any] | None"]


def _is_time_key(key: str) -> bool:
    return key in TIME_KEYS


def is_int(value: Any) -> bool:
    """An integer amount (``bool`` is not one, a whole ``Decimal`` is not one either)."""
    return isinstance(value, int) and not isinstance(value, bool)


def stringify_metadata(value: Any) -> Any:
    """Metadata values as Stripe stores them: strings. Non-dict metadata is kept as given."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, (int, float, Decimal)):
            out[key] = str(item)
        else:
            out[key] = item
    return out


def normalize(
    type_name: str,
    record: Any,
    default_created: int | None,
    invoice_lookup: InvoiceLookup | None = None,
) -> Any:
    """One Stripe record, sparse but with every derived field Stripe would send."""
    if not isinstance(record, dict):
        return record
    obj: dict[str, Any] = dict(convert_times(record, _is_time_key, to_seconds, _SKIP))
    _common(type_name, obj, default_created)
    special = _SPECIAL.get(type_name)
    if special is not None:
        special(obj, invoice_lookup)
    return obj


def _common(type_name: str, obj: dict[str, Any], default_created: int | None) -> None:
    obj.setdefault("object", type_name)
    if type_name in HAS_LIVEMODE:
        obj.setdefault("livemode", False)
    if "metadata" in obj:
        obj["metadata"] = stringify_metadata(obj["metadata"])
    if "created" not in obj and default_created is not None and type_name != "invoice_payment":
        obj["created"] = default_created


def wrap_list(value: Any, url: str, item: Callable[[Any], Any]) -> Any:
    """A plain list or a list object as a list object holding *all* items (render pages them)."""
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        data = value["data"]
    elif isinstance(value, list):
        data = value
    else:
        return value
    return {"object": "list", "data": [item(x) for x in data], "has_more": False, "url": url}


# Keys Stripe sends on every tax item (``total_taxes[]`` of invoices and credit notes, ``taxes[]`` of
# their lines) and on every credit-note ``refunds[]`` item; ``type`` names which details are set.
_TAX_ITEM = {"tax_rate_details": None, "taxability_reason": None, "taxable_amount": None,
             "type": "tax_rate_details"}
_NOTE_REFUND_ITEM = {"payment_record_refund": None, "type": "refund"}


def fill_items(value: Any, defaults: dict[str, Any]) -> Any:
    """A list of hashes with Stripe's always-present keys added to each hash; anything else as given."""
    if not isinstance(value, list) or not any(isinstance(item, dict) for item in value):
        return value
    return [{**defaults, **item} if isinstance(item, dict) else item for item in value]


def _fill_transitions(value: Any, keys: tuple[str, ...]) -> Any:
    if value is None:
        return dict.fromkeys(keys)
    if isinstance(value, dict):
        return {**dict.fromkeys(keys), **value}
    return value


def _tax_sums(taxes: Any) -> tuple[Any, Any] | None:
    """(all tax, inclusive tax) from ``total_taxes``, or ``None`` when it can't be summed."""
    if taxes is None:
        return 0, 0
    if not isinstance(taxes, list):
        return None
    total = inclusive = 0
    for tax in taxes:
        if not isinstance(tax, dict) or not is_int(tax.get("amount")):
            return None
        total += tax["amount"]
        if tax.get("tax_behavior") == "inclusive":
            inclusive += tax["amount"]
    return total, inclusive


def _invoice(obj: dict[str, Any], _lookup: InvoiceLookup | None) -> None:
    invoice_id = obj.get("id")
    due: Any = obj.get("amount_due")
    paid: Any = obj.get("amount_paid")
    if "amount_remaining" not in obj and is_int(due) and is_int(paid):
        obj["amount_remaining"] = due - paid
    obj["status_transitions"] = _fill_transitions(obj.get("status_transitions"), _INVOICE_TRANSITIONS)
    transitions = obj["status_transitions"]
    if "effective_at" not in obj and isinstance(transitions, dict):
        obj["effective_at"] = transitions.get("finalized_at")
    if "total_taxes" in obj:
        obj["total_taxes"] = fill_items(obj["total_taxes"], _TAX_ITEM)
    sums = _tax_sums(obj.get("total_taxes"))
    if sums is not None:
        total, subtotal = obj.get("total"), obj.get("subtotal")
        if "total_excluding_tax" not in obj and is_int(total):
            obj["total_excluding_tax"] = total - sums[0]
        if "subtotal_excluding_tax" not in obj and is_int(subtotal):
            obj["subtotal_excluding_tax"] = subtotal - sums[1]
    for key in ("period_start", "period_end"):
        if key not in obj and "created" in obj:
            obj[key] = obj["created"]

    def line(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        out = dict(item)
        out.setdefault("object", "line_item")
        out.setdefault("livemode", False)
        out.setdefault("invoice", invoice_id)
        if "metadata" in out:
            out["metadata"] = stringify_metadata(out["metadata"])
        if "subtotal" not in out and is_int(out.get("amount")):
            out["subtotal"] = out["amount"]
        if "taxes" in out:
            out["taxes"] = fill_items(out["taxes"], _TAX_ITEM)
        return out

    obj["lines"] = wrap_list(obj.get("lines", []), f"/v1/invoices/{invoice_id}/lines", line)


def _credit_note(obj: dict[str, Any], _lookup: InvoiceLookup | None) -> None:
    note_id = obj.get("id")

    def line(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        out = dict(item)
        out.setdefault("object", "credit_note_line_item")
        out.setdefault("livemode", False)
        if "taxes" in out:
            out["taxes"] = fill_items(out["taxes"], _TAX_ITEM)
        return out

    obj["lines"] = wrap_list(obj.get("lines", []), f"/v1/credit_notes/{note_id}/lines", line)
    for key, defaults in (("total_taxes", _TAX_ITEM), ("refunds", _NOTE_REFUND_ITEM)):
        if key in obj:
            obj[key] = fill_items(obj[key], defaults)
    if "effective_at" not in obj and "created" in obj:
        obj["effective_at"] = obj["created"]


def _subscription(obj: dict[str, Any], _lookup: InvoiceLookup | None) -> None:
    sub_id = obj.get("id")
    created = obj.get("created")

    def item(entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        out = dict(entry)
        out.setdefault("object", "subscription_item")
        out.setdefault("subscription", sub_id)
        if "created" not in out and created is not None:
            out["created"] = created
        if "metadata" in out:
            out["metadata"] = stringify_metadata(out["metadata"])
        return out

    obj["items"] = wrap_list(obj.get("items", []), f"/v1/subscription_items?subscription={sub_id}", item)
    if "start_date" not in obj and "created" in obj:
        obj["start_date"] = obj["created"]


def _invoice_payment(obj: dict[str, Any], lookup: InvoiceLookup | None) -> None:
    invoice = lookup(obj.get("invoice")) if lookup is not None else None
    paid_at = None
    if isinstance(invoice, dict) and isinstance(invoice.get("status_transitions"), dict):
        paid_at = invoice["status_transitions"].get("paid_at")
    transitions = _fill_transitions(obj.get("status_transitions"), _PAYMENT_TRANSITIONS)
    if isinstance(transitions, dict) and transitions.get("paid_at") is None and obj.get("status") == "paid":
        transitions["paid_at"] = paid_at
    obj["status_transitions"] = transitions
    if "created" not in obj:
        fallback = invoice.get("created") if isinstance(invoice, dict) else None
        obj["created"] = paid_at if is_number(paid_at) else fallback
    if "amount_requested" not in obj and is_int(obj.get("amount_paid")):
        obj["amount_requested"] = obj["amount_paid"]


def _event(obj: dict[str, Any], lookup: InvoiceLookup | None) -> None:
    data = obj.get("data")
    if isinstance(data, dict) and isinstance(data.get("object"), dict):
        inner = data["object"]
        kind = inner.get("object")
        if isinstance(kind, str) and kind in set(TYPES.values()):
            obj["data"] = {**data, "object": normalize(kind, inner, None, lookup)}
    obj.setdefault("request", {"id": None, "idempotency_key": None})


_SPECIAL: dict[str, Callable[[dict[str, Any], InvoiceLookup | None], None]] = {
    "invoice": _invoice,
    "credit_note": _credit_note,
    "subscription": _subscription,
    "invoice_payment": _invoice_payment,
    "event": _event,
}
