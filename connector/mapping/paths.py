"""Reading a value out of a payload by its dotted mapping path.

Paths are dotted; `name[]` walks every element of a list (for `sum-money`, `str-list`);
`@parent.` reads the enclosing object (for child tables such as invoice lines). An absent
value is `MISSING`, not None, because a present JSON null means something different to a
field with a default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from connector.mapping.errors import RecordError

PARENT = "@parent."


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Reader = Callable[[dict[str, Any], "dict[str, Any] | None"], Any]


def list_items(items: Any, label: str) -> Any:
    """`items` as a list (a Stripe list object's `data`); MISSING and None pass through."""
    if items is MISSING or items is None:
        return items
    if isinstance(items, dict) and isinstance(items.get("data"), list):
        items = items["data"]  # a Stripe list object
    if not isinstance(items, list):
        raise RecordError(f"{label} is not a list")
    return items


def _walk(node: Any, parts: Sequence[str]) -> Any:
    for i, part in enumerate(parts):
        if part.endswith("[]"):
            name = part[:-2]
            items = list_items(node.get(name, MISSING) if isinstance(node, dict) else MISSING, name)
            if items is MISSING or items is None:
                return items
            return [_walk(item, parts[i + 1 :]) for item in items]
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def read_path(payload: dict[str, Any], path: str, parent: dict[str, Any] | None = None) -> Any:
    """The value at dotted `path` (MISSING when absent; `@parent.` reads the enclosing object)."""
    if path.startswith(PARENT):
        return _walk(parent or {}, path[len(PARENT) :].split("."))
    return _walk(payload, path.split("."))


def compile_path(path: str) -> Reader:
    """`read_path` for one fixed path, split once: splitting and walking it per record was a
    tenth of the pull. Plain one- and two-step paths (nearly all of them) get a direct reader."""
    if path.startswith(PARENT):
        return _from_parent(compile_path(path[len(PARENT) :]))
    parts = tuple(path.split("."))
    if any(p.endswith("[]") for p in parts):
        return _walker(parts)
    if len(parts) == 1:
        return _one_step(parts[0])
    return _nested(parts[0], parts[1:])


def _from_parent(inner: Reader) -> Reader:
    def from_parent(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
        return inner(parent or {}, None)

    return from_parent


def _walker(parts: tuple[str, ...]) -> Reader:
    def walk(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
        return _walk(payload, parts)

    return walk


def _one_step(first: str) -> Reader:
    def one(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
        return payload.get(first, MISSING)

    return one


def _nested(first: str, rest: tuple[str, ...]) -> Reader:
    def nested(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
        node = payload.get(first, MISSING)
        for part in rest:
            if not isinstance(node, dict):
                return MISSING
            node = node.get(part, MISSING)
        return node

    return nested
