"""Stored (sparse) Stripe records rendered into the full objects Stripe sends, and ``expand``.

Why: storage stays small and cheap to update; every key of Stripe's sample object is added only on
the way out. Embedded lists are cut to Stripe's first 10 items (``has_more`` tells the client to page
``/v1/invoices/{id}/lines``). Subscription items embed their price object, as Stripe does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .stripe_defaults import DEFAULTS

EMBEDDED_LIMIT = 10

Resolver = Callable[[str], "dict[str, Any] | None"]


class ExpandError(ValueError):
    """An ``expand`` path Stripe would refuse."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def render(type_name: str, obj: Any, resolve_price: Resolver | None = None) -> Any:
    """The full Stripe object for a stored record; non-dict records are returned as given."""
    if not isinstance(obj, dict):
        return obj
    defaults = DEFAULTS.get(type_name)
    out = {**defaults, **obj} if defaults else dict(obj)
    if type_name == "invoice":
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
                out["data"] = {**data, "object": render(kind, inner, resolve_price)}
    return out


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


def expand(document: Any, paths: list[str], resolve: Resolver) -> Any:
    """Replace ids by objects along each dotted path (``data.customer``, ``data.items.data.price``).

    A path step that names a key absent from an object raises ``ExpandError`` like Stripe's 400;
    a null or an unknown id is left as it is; an already-embedded object is a no-op.
    """
    for path in paths:
        steps = [s for s in path.split(".") if s]
        if not steps or len(steps) > 8:
            raise ExpandError(path)
        document = _expand(document, steps, resolve, path)
    return document


def _expand(node: Any, steps: list[str], resolve: Resolver, path: str) -> Any:
    if isinstance(node, list):
        return [_expand(item, steps, resolve, path) for item in node]
    if not isinstance(node, dict):
        return node
    head, rest = steps[0], steps[1:]
    if head not in node:
        raise ExpandError(path)
    value = node[head]
    if rest:
        if value is None or isinstance(value, str):
            if isinstance(value, str):
                found = resolve(value)
                if found is None:
                    return node
                value = found
            else:
                return node
        return {**node, head: _expand(value, rest, resolve, path)}
    if isinstance(value, str):
        found = resolve(value)
        if found is not None:
            return {**node, head: found}
    return node
