"""Which fields Stripe can ``expand``, per object type, and expansion that refuses the rest.

Why: Stripe answers 400 ``This property cannot be expanded (…)`` for any path that does not name an
expandable field (a plain string such as ``status``, a hash such as ``metadata``, an unknown key), and
*includable* fields (an invoice's ``payments``) exist in an answer only when expanded. An adapter
that expands the wrong thing must fail here as it would against Stripe.

The tables come from the installed ``stripe`` SDK: every attribute typed ``ExpandableField[...]``
(``EXPANDABLE``) or ``ListObject[...]`` (``LISTS``) of the resource classes, nested hashes included
(``parent.subscription_details.subscription``); ``tests/sandbox`` re-derives them from the SDK source
to keep them honest. Targets the sandbox does not serve (payment intents, accounts...) are ``None``:
expanding them is accepted and leaves the id, since there is no object to put there.

A path walks through list objects (``data``), plain arrays (implicitly, as Stripe does:
``refunds.refund``), embedded objects (a subscription item's ``price``) and expanded objects. Stripe
refuses more than four levels (``You cannot expand more than 4 levels of a property.``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_LEVELS = 4

_FILE = None  # targets the sandbox does not serve
EXPANDABLE: dict[str, dict[str, str | None]] = {
    "customer": {"default_source": _FILE, "invoice_settings.default_payment_method": _FILE, "test_clock": _FILE},
    "product": {"default_price": "price", "tax_code": _FILE},
    "price": {"product": "product"},
    "subscription": {
        "application": _FILE, "automatic_tax.liability.account": _FILE, "billing_schedules.applies_to.price": "price",
        "cancellation_details.feedback_option": _FILE, "customer": "customer", "default_payment_method": _FILE,
        "default_source": _FILE, "discounts": _FILE, "invoice_settings.account_tax_ids": _FILE,
        "invoice_settings.issuer.account": _FILE, "latest_invoice": "invoice", "on_behalf_of": _FILE,
        "pending_setup_intent": _FILE, "pending_update.discounts": _FILE, "schedule": _FILE, "test_clock": _FILE,
        "transfer_data.destination": _FILE,
    },
    "subscription_item": {"discounts": _FILE},
    "invoice": {
        "account_tax_ids": _FILE, "application": _FILE, "automatic_tax.liability.account": _FILE,
        "customer": "customer", "default_payment_method": _FILE, "default_source": _FILE, "discounts": _FILE,
        "from_invoice.invoice": "invoice", "issuer.account": _FILE, "latest_revision": "invoice",
        "on_behalf_of": _FILE, "parent.subscription_details.subscription": "subscription",
        "shipping_cost.shipping_rate": _FILE, "test_clock": _FILE, "total_discount_amounts.discount": _FILE,
        "total_pretax_credit_amounts.credit_balance_transaction": _FILE,
        "total_pretax_credit_amounts.discount": _FILE,
    },
    "line_item": {
        "discount_amounts.discount": _FILE, "discounts": _FILE,
        "pretax_credit_amounts.credit_balance_transaction": _FILE, "pretax_credit_amounts.discount": _FILE,
        "pricing.price_details.price": "price", "subscription": "subscription",
    },
    "credit_note": {
        "customer": "customer", "customer_balance_transaction": _FILE, "discount_amounts.discount": _FILE,
        "invoice": "invoice", "pretax_credit_amounts.credit_balance_transaction": _FILE,
        "pretax_credit_amounts.discount": _FILE, "refunds.refund": "refund", "shipping_cost.shipping_rate": _FILE,
    },
    "credit_note_line_item": {
        "discount_amounts.discount": _FILE, "pretax_credit_amounts.credit_balance_transaction": _FILE,
        "pretax_credit_amounts.discount": _FILE,
    },
    "refund": {
        "balance_transaction": _FILE, "charge": "charge", "customer": "customer",
        "failure_balance_transaction": _FILE, "payment_intent": _FILE, "payment_method": _FILE,
        "source_transfer_reversal": _FILE, "transfer_reversal": _FILE,
    },
    "dispute": {
        "charge": "charge", "payment_intent": _FILE,
        **{f"evidence.{name}": _FILE for name in (
            "cancellation_policy", "customer_communication", "customer_signature", "duplicate_charge_documentation",
            "receipt", "refund_policy", "service_documentation", "shipping_documentation", "uncategorized_file")},
    },
    "invoice_payment": {"invoice": "invoice", "payment.charge": "charge", "payment.payment_intent": _FILE,
                        "payment.payment_record": _FILE},
    "charge": {
        "application": _FILE, "application_fee": _FILE, "balance_transaction": _FILE, "customer": "customer",
        "failure_balance_transaction": _FILE, "on_behalf_of": _FILE, "outcome.rule": _FILE,
        "payment_intent": _FILE, "review": _FILE, "source_transfer": _FILE, "transfer": _FILE,
        "transfer_data.destination": _FILE, "payment_method_details.card.mandate": _FILE,
        "payment_method_details.us_bank_account.mandate": _FILE,
        **{f"payment_method_details.{kind}.{name}": _FILE for kind in ("bancontact", "ideal", "sofort")
           for name in ("generated_sepa_debit", "generated_sepa_debit_mandate")},
    },
    "event": {},
}
# List objects a type carries (item type); ``INCLUDABLE`` ones are sent only when expanded.
LISTS: dict[str, dict[str, str | None]] = {
    "customer": {"sources": _FILE, "subscriptions": "subscription", "tax_ids": _FILE},
    "subscription": {"items": "subscription_item"},
    "invoice": {"lines": "line_item", "payments": "invoice_payment"},
    "credit_note": {"lines": "credit_note_line_item"},
    "charge": {"refunds": "refund"},
}
INCLUDABLE: dict[str, frozenset[str]] = {
    "invoice": frozenset({"payments"}),
    "customer": frozenset({"sources", "subscriptions", "tax_ids"}),
}
# Full objects always embedded (never ids), walked through by a deeper path.
EMBEDDED: dict[str, dict[str, str]] = {"subscription_item": {"price": "price"}}

Resolver = Callable[[str], "dict[str, Any] | None"]
# (type, object, includable field) -> the field's value, or None when the sandbox has nothing to put there
Includer = Callable[[str, dict[str, Any], str], Any]


class ExpandError(ValueError):
    """An ``expand`` path Stripe would refuse; ``message`` is Stripe's text."""

    def __init__(self, path: str, message: str | None = None) -> None:
        super().__init__(path)
        self.path = path
        self.message = message or f"This property cannot be expanded ({path})."


def expand_typed(document: Any, type_name: str | None, paths: list[str], resolve: Resolver,
                 include: Includer) -> Any:
    """``document`` (an object of ``type_name``, or a list object when ``type_name`` is ``list:<item>``)
    with each path expanded; raises ``ExpandError`` for a path Stripe would refuse."""
    for path in paths:
        steps = path.split(".")
        if not path or any(not step for step in steps):
            raise ExpandError(path)
        if len(steps) > MAX_LEVELS:
            raise ExpandError(path, f"You cannot expand more than {MAX_LEVELS} levels of a property.")
        _check(type_name, steps, path)  # refused whether or not any object has the field
        document = _walk(document, type_name, steps, path, resolve, include)
    return document


def _check(type_name: str | None, steps: list[str], path: str) -> None:
    """Raise ``ExpandError`` unless ``steps`` name an expandable field of ``type_name`` (through lists)."""
    while steps:
        if type_name is None:
            return
        if type_name.startswith("list:"):
            if steps[0] != "data" or len(steps) == 1:
                raise ExpandError(path)
            type_name, steps = type_name[5:] or None, steps[1:]
            continue
        found = _match(type_name, steps)
        if found is None:
            raise ExpandError(path)
        size, kind, target = found
        steps = steps[size:]
        if kind == "embedded" and not steps:
            raise ExpandError(path)
        type_name = f"list:{target or ''}" if kind == "list" else target


def _match(type_name: str, steps: list[str]) -> tuple[int, str, str | None] | None:
    """The longest leading run of ``steps`` naming a field of ``type_name``: (length, kind, target)."""
    for size in range(min(len(steps), 4), 0, -1):
        name = ".".join(steps[:size])
        if name in EXPANDABLE.get(type_name, {}):
            return size, "expand", EXPANDABLE[type_name][name]
        if name in LISTS.get(type_name, {}):
            return size, "list", LISTS[type_name][name]
        if name in EMBEDDED.get(type_name, {}):
            return size, "embedded", EMBEDDED[type_name][name]
    return None


def _walk(node: Any, type_name: str | None, steps: list[str], path: str, resolve: Resolver,
          include: Includer) -> Any:
    if isinstance(node, list):
        return [_walk(item, type_name, steps, path, resolve, include) for item in node]
    if type_name is None:  # a type the sandbox does not serve: nothing to check or expand
        return node
    if type_name.startswith("list:"):
        if steps[0] != "data":
            raise ExpandError(path)
        if not isinstance(node, dict) or not isinstance(node.get("data"), list):
            return node
        rest = steps[1:]
        if not rest:
            raise ExpandError(path)
        item_type = type_name[5:] or None
        return {**node, "data": [_walk(x, item_type, rest, path, resolve, include) for x in node["data"]]}
    found = _match(type_name, steps)
    if found is None:
        raise ExpandError(path)
    if not isinstance(node, dict):
        return node
    size, kind, target = found
    field, rest = steps[:size], steps[size:]
    if kind == "list":
        if field[0] in INCLUDABLE.get(type_name, frozenset()) and field[0] not in node:
            value = include(type_name, node, field[0])
            if value is None:
                return node
            node = {**node, field[0]: value}
        if not rest:
            return node
        return _at(node, field, lambda value: _walk(value, f"list:{target or ''}", rest, path, resolve, include))
    if kind == "embedded":
        if not rest:
            raise ExpandError(path)
        return _at(node, field, lambda value: _walk(value, target, rest, path, resolve, include))

    def expand_value(value: Any) -> Any:
        if isinstance(value, list):  # an array of expandable ids (``discounts``, ``account_tax_ids``)
            return [expand_value(item) for item in value]
        if isinstance(value, str) and target is not None:
            found_obj = resolve(value)
            if found_obj is not None:
                value = found_obj
        if rest and isinstance(value, dict):
            return _walk(value, target, rest, path, resolve, include)
        return value

    return _at(node, field, expand_value)


def _at(node: Any, keys: list[str], change: Callable[[Any], Any]) -> Any:
    """``node`` with ``change`` applied to the value at ``keys`` (through arrays); copies on the way."""
    if isinstance(node, list):
        return [_at(item, keys, change) for item in node]
    if not isinstance(node, dict) or keys[0] not in node:
        return node
    value = node[keys[0]]
    if value is None:
        return node
    new = change(value) if len(keys) == 1 else _at(value, keys[1:], change)
    return node if new is value else {**node, keys[0]: new}
