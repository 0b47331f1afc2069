"""Stripe objects as an account pinned to a pre-basil API version (``2024-06-20``) receives them in events.

Why: Stripe renders an event's ``data.object`` in the API version the event was created with (the
account's default version then), not in the version of the request that lists it. An account still on
``2024-06-20`` therefore gets invoices with ``total_tax_amounts``, top-level ``subscription`` /
``charge`` / ``payment_intent`` and ``paid``, line items with an embedded ``price`` and ``tax_amounts``,
credit notes with one ``refund`` and ``tax_amounts``, and subscriptions carrying
``current_period_start/end``; the connector must read events of either shape. ``--event-api-version``
chooses the version events are created with; objects fetched directly are always in the current shape.

What changes (``2024-06-20`` versus the basil and later shape the sandbox stores), for the objects the
connector maps:

- invoice: ``total_taxes[]`` -> ``total_tax_amounts[]`` (``amount``, ``inclusive``, ``tax_rate``,
  ``taxability_reason``, ``taxable_amount``) and ``tax``; ``parent.subscription_details`` ->
  ``subscription`` / ``subscription_details``, ``parent.quote_details.quote`` -> ``quote``; ``paid``,
  ``paid_out_of_band``, ``charge`` and ``payment_intent`` from the invoice's payment; ``discount``;
  no ``parent``, ``payments``, ``total_pretax_credit_amounts``, ``amount_overpaid``, ``customer_account``.
- invoice line: ``pricing.price_details`` -> ``price`` (the price object), ``parent`` -> ``type``,
  ``subscription_item``, ``invoice_item``, ``proration``, ``proration_details``; ``taxes`` ->
  ``tax_amounts``; ``amount_excluding_tax``, ``unit_amount_excluding_tax``, ``plan``, ``tax_rates``.
- credit note: ``refunds[]`` -> ``refund`` (the first one's id), ``total_taxes`` -> ``tax_amounts``; no
  ``pre_payment_amount``, ``post_payment_amount``, ``pretax_credit_amounts``, ``customer_account``;
  lines: ``taxes`` -> ``tax_amounts``, ``amount_excluding_tax``, ``unit_amount_excluding_tax``.
- subscription: ``current_period_start/end`` back on the subscription (from its first item) and off
  the items; no ``billing_mode``, ``billing_schedules``, ``customer_account``, ``managed_payments``.
- invoice_payment did not exist before basil; it is left as it is (an ``invoice_payment.paid`` event
  keeps its current shape).

Values a pre-basil object carries and the basil one no longer does are never invented beyond what
follows from the object itself and the sandbox's other records.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

BASIL = "2025-03-31"
PRE_BASIL = "2024-06-20"

Lookup = Callable[[str], "dict[str, Any] | None"]


def version_date(version: Any) -> str | None:
    """``YYYY-MM-DD`` of an API version string (``2025-03-31.basil``), or ``None`` when malformed."""
    if not isinstance(version, str):
        return None
    date = version[:10]
    if len(date) != 10 or date[4] != "-" or date[7] != "-" or not date.replace("-", "").isdigit():
        return None
    if len(version) > 10 and version[10] != ".":
        return None
    return date


def is_pre_basil(version: Any) -> bool:
    """Whether objects of this API version have the pre-basil shape."""
    date = version_date(version)
    return date is not None and date < BASIL


def check_event_version(version: str) -> str:
    """Validate an ``--event-api-version`` value; returns it. Raises ``ValueError``."""
    if version_date(version) is None:
        raise ValueError(f"--event-api-version must look like 2024-06-20 or 2025-03-31.basil, not {version!r}")
    return version


class Downgrader:
    """Rewrites rendered (current-shape) objects into the pre-basil shape.

    ``price``: a price id -> the rendered price; ``payment``: an invoice id -> its (default) invoice
    payment record; ``charge_for``: a payment intent id -> the id of its charge, when the sandbox has one.
    """

    def __init__(self, price: Lookup, payment: Lookup, charge_for: Callable[[str], str | None]) -> None:
        self.price = price
        self.payment = payment
        self.charge_for = charge_for

    def object(self, type_name: str, obj: Any) -> Any:
        """``obj`` (type ``type_name``) in the pre-basil shape; anything not a dict as given."""
        if not isinstance(obj, dict):
            return obj
        convert = {"invoice": self.invoice, "credit_note": self.credit_note, "subscription": self.subscription,
                   "line_item": self.line_item, "credit_note_line_item": self.credit_note_line}.get(type_name)
        return convert(obj) if convert is not None else obj

    # ----- invoices -----------------------------------------------------------------------------
    def invoice(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = _without(obj, ("total_taxes", "parent", "payments", "total_pretax_credit_amounts", "amount_overpaid",
                             "customer_account"))
        taxes = obj.get("total_taxes")
        amounts = _tax_amounts(taxes) if taxes is not None else obj.get("total_tax_amounts", [])
        out["total_tax_amounts"] = amounts
        out["tax"] = _tax_total(amounts)
        parent = _dict(obj.get("parent"))
        details = _dict(parent.get("subscription_details")) or None
        quote = _dict(parent.get("quote_details")) or None
        out["subscription"] = details.get("subscription") if details else obj.get("subscription")
        out["subscription_details"] = {"metadata": details.get("metadata")} if details else None
        out["subscription_proration_date"] = None
        out["quote"] = quote.get("quote") if quote else None
        out["discount"] = None
        status = obj.get("status")
        payment = self.payment(obj["id"]) if isinstance(obj.get("id"), str) else None
        details_of = payment.get("payment") if isinstance(payment, dict) else None
        details_of = details_of if isinstance(details_of, dict) else {}
        intent = details_of.get("payment_intent")
        charge = details_of.get("charge")
        if charge is None and isinstance(intent, str):
            charge = self.charge_for(intent)
        out["paid"] = status == "paid"
        out["paid_out_of_band"] = status == "paid" and details_of.get("type") == "out_of_band_payment"
        out["payment_intent"] = intent
        out["charge"] = charge
        lines = obj.get("lines")
        if isinstance(lines, dict) and isinstance(lines.get("data"), list):
            out["lines"] = {**lines, "data": [self.line_item(x) if isinstance(x, dict) else x for x in lines["data"]]}
        return out

    def line_item(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = _without(obj, ("parent", "pricing", "taxes", "pretax_credit_amounts"))
        price_details = _dict(_dict(obj.get("pricing")).get("price_details")) or None
        price: Any = obj.get("price")
        if price_details is not None and isinstance(price_details.get("price"), str):
            found = self.price(price_details["price"])
            price = found if found is not None else {"id": price_details["price"], "object": "price",
                                                     "product": price_details.get("product")}
        out["price"] = price
        out["plan"] = obj.get("plan")
        parent = _dict(obj.get("parent"))
        item = parent.get("subscription_item_details")
        invoice_item = parent.get("invoice_item_details")
        source = item if isinstance(item, dict) else invoice_item if isinstance(invoice_item, dict) else {}
        out["type"] = "subscription" if isinstance(item, dict) else "invoiceitem"
        out["subscription"] = source.get("subscription", obj.get("subscription"))
        out["subscription_item"] = source.get("subscription_item")
        out["invoice_item"] = source.get("invoice_item")
        out["proration"] = bool(source.get("proration", False))
        out["proration_details"] = source.get("proration_details") or {"credited_items": None}
        taxes = obj.get("taxes")
        amounts = _tax_amounts(taxes) if taxes is not None else obj.get("tax_amounts", [])
        out["tax_amounts"] = amounts
        out["tax_rates"] = obj.get("tax_rates", [])
        _excluding_tax(out, obj.get("amount"), amounts, obj.get("quantity"))
        return out

    # ----- credit notes -------------------------------------------------------------------------
    def credit_note(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = _without(obj, ("refunds", "total_taxes", "pretax_credit_amounts", "pre_payment_amount",
                             "post_payment_amount", "customer_account"))
        refunds = obj.get("refunds")
        first = refunds[0] if isinstance(refunds, list) and refunds else None
        out["refund"] = first.get("refund") if isinstance(first, dict) else obj.get("refund")
        taxes = obj.get("total_taxes")
        out["tax_amounts"] = _tax_amounts(taxes) if taxes is not None else obj.get("tax_amounts", [])
        lines = obj.get("lines")
        if isinstance(lines, dict) and isinstance(lines.get("data"), list):
            out["lines"] = {**lines, "data": [self.credit_note_line(x) if isinstance(x, dict) else x
                                              for x in lines["data"]]}
        return out

    def credit_note_line(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = _without(obj, ("taxes", "pretax_credit_amounts"))
        taxes = obj.get("taxes")
        amounts = _tax_amounts(taxes) if taxes is not None else obj.get("tax_amounts", [])
        out["tax_amounts"] = amounts
        _excluding_tax(out, obj.get("amount"), amounts, obj.get("quantity"))
        return out

    # ----- subscriptions ------------------------------------------------------------------------
    def subscription(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = _without(obj, ("billing_mode", "billing_schedules", "customer_account", "managed_payments"))
        items = _dict(obj.get("items"))
        data = items.get("data")
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        for key in ("current_period_start", "current_period_end"):
            out[key] = first.get(key, obj.get(key))
        if isinstance(data, list):
            moved = [_without(x, ("current_period_start", "current_period_end")) if isinstance(x, dict) else x
                     for x in data]
            out["items"] = {**items, "data": moved}
        return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _without(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in keys}


def _tax_amounts(taxes: Any) -> Any:
    """Basil tax items (``total_taxes[]`` / ``taxes[]``) as pre-basil ``tax_amounts[]``."""
    if not isinstance(taxes, list):
        return taxes
    out: list[Any] = []
    for tax in taxes:
        if not isinstance(tax, dict):
            out.append(tax)
            continue
        details = tax.get("tax_rate_details")
        out.append({
            "amount": tax.get("amount"),
            "inclusive": tax.get("tax_behavior") == "inclusive",
            "tax_rate": details.get("tax_rate") if isinstance(details, dict) else None,
            "taxability_reason": tax.get("taxability_reason"),
            "taxable_amount": tax.get("taxable_amount"),
        })
    return out


def _tax_total(amounts: Any) -> Any:
    if not isinstance(amounts, list):
        return None
    total = 0
    for item in amounts:
        amount = item.get("amount") if isinstance(item, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool):
            return None
        total += amount
    return total if amounts else None


def _excluding_tax(out: dict[str, Any], amount: Any, amounts: Any, quantity: Any) -> None:
    """``amount_excluding_tax`` (amount less inclusive tax) and its per-unit decimal string."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        out["amount_excluding_tax"] = None
        out["unit_amount_excluding_tax"] = None
        return
    inclusive = 0
    for item in amounts if isinstance(amounts, list) else []:
        if isinstance(item, dict) and item.get("inclusive") and isinstance(item.get("amount"), int):
            inclusive += item["amount"]
    excluding = amount - inclusive
    out["amount_excluding_tax"] = excluding
    units = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0 else 1
    out["unit_amount_excluding_tax"] = str(Decimal(excluding) / Decimal(units))
