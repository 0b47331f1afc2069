"""Stored (sparse) Stripe records rendered into the full objects Stripe sends, and ``expand``.

Why: storage stays small and cheap to update; every key of Stripe's sample object is added only on
the way out. Embedded lists are cut to Stripe's first 10 items (``has_more`` tells the client to page
``/v1/invoices/{id}/lines``). Subscription items embed their price object, as Stripe does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .stripe_defaults import DEFAULTS
from .versions import is_pre_basil

EMBEDDED_LIMIT = 10

Resolver = Callable[[str], "dict[str, Any] | None"]


# (type, rendered object) -> the object in the event's (older) API version
Downgrade = Callable[[str, Any], Any]


def render(type_name: str, obj: Any, resolve_price: Resolver | None = None,
           downgrade: Downgrade | None = None) -> Any:
    """The full Stripe object for a stored record; non-dict records are returned as given.

    An event's ``data.object`` goes through ``downgrade`` when the event's ``api_version`` is older
    than basil (``versions.py``), as Stripe renders an event in the version it was created with.
    """
    if not isinstance(obj, dict):
        return obj
    defaults = DEFAULTS.get(type_name)
    out = {**defaults, **obj} if defaults else dict(obj)
    if type_name == "invoice":
        out.pop("payments", None)  # includable: sent only when expanded (``expandable.py``)
        out["lines"] = _embedded(out.get("lines"), "line_item", None)
    elif type_name == "credit_note":
        out["lines"] = _embedded(out.get("lines"), "credit_note_line_item", None)
    elif type_name == "subscription":
        out["items"] = _embedded(out.get("items"), "subscription_item", resolve_price)
    elif type_name == "charge":
        out["refunds"] = _embedded(out.get("refunds"), "refund", None)
    elif type_name == "event":
        data = out.get("data")
        if isinstance(data, dict) and isinstance(data.get("object"), dict):
            inner = data["object"]
            kind = inner.get("object")
            if isinstance(kind, str) and kind in DEFAULTS:
                rendered = render(kind, inner, resolve_price)
                if downgrade is not None and is_pre_basil(out.get("api_version")):
                    data = _downgraded_data(kind, data, inner, rendered, resolve_price, downgrade)
                    rendered = downgrade(kind, rendered)
                out["data"] = {**data, "object": rendered}
    return out


def _downgraded_data(kind: str, data: dict[str, Any], inner: dict[str, Any], rendered: Any,
                     resolve_price: Resolver | None, downgrade: Downgrade) -> dict[str, Any]:
    """``data`` with ``previous_attributes`` named and valued as the older version has them."""
    previous = data.get("previous_attributes")
    if not isinstance(previous, dict):
        return data
    old = downgrade(kind, render(kind, {**inner, **previous}, resolve_price))
    new = downgrade(kind, rendered)
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return data
    changed = {key: old.get(key) for key in {*old, *new} if old.get(key) != new.get(key)}
    return {**data, "previous_attributes": dict(sorted(changed.items()))}


def render_item(type_name: str, item: Any, resolve_price: Resolver | None) -> Any:
    """One item of an embedded list (line item, credit-note line, subscription item)."""
    rendered = render(type_name, item)
    if type_name == "subscription_item" and isinstance(rendered, dict) and resolve_price is not None:
        price = rendered.get("price")
        if isinstance(price, str):
            found = resolve_price(price)
            if found is not None:
                rendered["price"] = found
    return rendered


def _embedded(value: Any, item_type: str, resolve_price: Resolver | None) -> Any:
    if not (isinstance(value, dict) and isinstance(value.get("data"), list)):
        return value
    data = value["data"]
    return {
        **value,
        "data": [render_item(item_type, x, resolve_price) for x in data[:EMBEDDED_LIMIT]],
        "has_more": len(data) > EMBEDDED_LIMIT,
    }
