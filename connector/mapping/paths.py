"""Reading a value out of a payload by its dotted mapping path.

Paths are dotted; `name[]` walks every element of a list (for `sum-money`, `str-list`);
`name[attr=value]` selects the first element of a list whose `attr` is `value` (PartnerStack
sends form answers as a list of field objects: `fields[api_name=tax_form].value`); `@parent.`
reads the enclosing object (for child tables such as invoice lines). An absent value is
`MISSING`, not None, because a present JSON null means something different to a field with a
default. A selector on something that is not a list reads as absent, so a fallback path for an
older shape (`field_data.tax_form`) still gets its turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from connector.mapping.errors import RecordError

PARENT = "@parent."
_STEP = re.compile(r"^(?P<name>[^.\[\]=]+)(?:\[\]|\[(?P<attr>[A-Za-z0-9_-]+)=(?P<value>[^.\[\]=]+)\])?$")


class Selector(NamedTuple):
    """A `name[attr=value]` step: the list at `name`, its first element with `attr` == `value`."""

    name: str
    attr: str
    value: str


def parse_step(step: str) -> str | Selector:
    """A path step as its key (`name`, `name[]` kept as text) or a `Selector`; ValueError if malformed."""
    match = _STEP.match(step)
    if match is None:
        raise ValueError(f"bad path step {step!r} (expected name, name[] or name[attr=value])")
    if match.group("attr") is None:
        return step
    return Selector(match.group("name"), match.group("attr"), match.group("value"))


def check_path(path: str) -> None:
    """ValueError naming the fault if `path` is not a well-formed mapping path."""
    for step in (path[len(PARENT) :] if path.startswith(PARENT) else path).split("."):
        parse_step(step)


def split_path(path: str) -> tuple[str | Selector, ...]:
    """The steps of a path (without `@parent.`), selectors parsed."""
    return tuple(parse_step(step) for step in path.split("."))


def select(node: Any, name: str, attr: str, value: str) -> Any:
    """The first element of the list at `node[name]` whose `attr` equals `value`, else MISSING."""
    items = node.get(name) if isinstance(node, dict) else None
    if isinstance(items, dict):
        items = items.get("data")  # a Stripe list object
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get(attr) == value:
                return item
    return MISSING


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


def _walk(node: Any, parts: Sequence[str | Selector]) -> Any:
    for i, part in enumerate(parts):
        if isinstance(part, Selector):
            node = select(node, *part)
            continue
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
        return _walk(parent or {}, split_path(path[len(PARENT) :]))
    return _walk(payload, split_path(path))


def compile_path(path: str) -> Reader:
    """`read_path` for one fixed path, split once: splitting and walking it per record was a
    tenth of the pull. Plain one- and two-step paths (nearly all of them) get a direct reader."""
    if path.startswith(PARENT):
        return _from_parent(compile_path(path[len(PARENT) :]))
    parts = split_path(path)
    plain = tuple(p for p in parts if isinstance(p, str) and not p.endswith("[]"))
    if len(plain) != len(parts):
        return _walker(parts)
    if len(plain) == 1:
        return _one_step(plain[0])
    return _nested(plain[0], plain[1:])


def _from_parent(inner: Reader) -> Reader:
    def from_parent(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
        return inner(parent or {}, None)

    return from_parent


def _walker(parts: tuple[str | Selector, ...]) -> Reader:
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
