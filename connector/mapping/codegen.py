"""The generated row builders: a stream's fields compiled into one Python function.

Mapping every record field by field through generic readers and converters was half the
pull. A stream's fields are instead compiled, once per load, into one Python function that
reads each path with plain `dict.get` and accepts the value types upstream nearly always
sends inline; anything else goes through `FieldSpec.convert`, so errors and quarantine
reasons are those of the general path. Only literals built here (and `repr` of the
mapping's path parts and column names) enter the source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from connector.mapping.convert import EPOCH, INT64_MAX
from connector.mapping.paths import MISSING, PARENT, Reader, Selector, compile_path, select, split_path
from connector.money import MINOR_EXPONENTS

if TYPE_CHECKING:
    from connector.mapping.model import FieldSpec

RowBuilder = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]

_SECOND = dt.timedelta(seconds=1)
_MILLISECOND = dt.timedelta(milliseconds=1)
_MAX_S = (dt.datetime(2201, 1, 1, tzinfo=dt.UTC) - EPOCH) // _SECOND  # year 2200 is the last accepted
_MAX_MS = _MAX_S * 1000
_CURRENCY_SPELLINGS: dict[str, str] = {
    **{code: code for code in MINOR_EXPONENTS},
    **{code.upper(): code for code in MINOR_EXPONENTS},
}
_CODE_GLOBALS: dict[str, Any] = {
    "MISSING": MISSING,
    "_select": select,
    "_EMPTY": {},  # `parent or {}`; never written to
    "_CURRENCY_SPELLINGS": _CURRENCY_SPELLINGS,
    "_EPOCH": EPOCH,
    "_SECOND": _SECOND,
    "_MILLISECOND": _MILLISECOND,
}


def _fast_path(kind: str, cap: int, minimum: int | None) -> tuple[str, str] | None:
    """(test on `v`, value) accepting what `FieldSpec.convert` would return unchanged, or None."""
    if kind == "json":
        return ("True", "v")
    if kind == "str":  # ASCII cannot hold a lone surrogate, so the UTF-8 check is moot
        return (f"type(v) is str and len(v) <= {cap} and v.isascii() and '\\x00' not in v", "v")
    if kind in ("int", "int-money"):
        low = -INT64_MAX - 1 if minimum is None else max(minimum, -INT64_MAX - 1)
        return (f"type(v) is int and {low} <= v <= {INT64_MAX}", "v")
    if kind == "currency":
        return ("type(v) is str and v in _CURRENCY_SPELLINGS", "_CURRENCY_SPELLINGS[v]")
    if minimum is not None:  # a minimum on a non-integer type: leave it to the general path
        return None
    if kind == "datetime-s":
        return (f"type(v) is int and 0 <= v < {_MAX_S}", "_EPOCH + _SECOND * v")
    if kind == "datetime-ms":
        return (f"type(v) is int and 0 <= v < {_MAX_MS}", "_EPOCH + _MILLISECOND * v")
    if kind == "bool":
        return ("type(v) is bool", "v")
    return None


def _read_lines(path: str, reader: str) -> list[str]:
    """Statements setting `v` to the value at `path` (MISSING when absent), as `read_path` would."""
    base = "payload"
    if path.startswith(PARENT):
        base, path = "(parent or _EMPTY)", path[len(PARENT) :]
    parts = split_path(path)
    if any(isinstance(p, str) and p.endswith("[]") for p in parts):
        return [f"v = {reader}(payload, parent)"]
    lines: list[str] = []
    node = base
    for part in parts:
        if isinstance(part, Selector):  # a list element by attribute: one call, no per-record parsing
            lines.append(f"v = _select({node}, {part.name!r}, {part.attr!r}, {part.value!r})")
        elif node == "v":
            lines.append(f"v = v.get({part!r}, MISSING) if isinstance(v, dict) else MISSING")
        else:
            lines.append(f"v = {node}.get({part!r}, MISSING)")
        node = "v"
    return lines


def _field_lines(spec: FieldSpec, i: int, env: dict[str, Any]) -> list[str]:
    """Statements setting `c{i}` to the column value of `spec` for `payload` / `parent`."""
    env[f"convert{i}"] = spec.convert
    env[f"missing{i}"] = spec.missing_value()
    lines: list[str] = []
    indent = ""
    for j, path in enumerate(spec.paths):
        env[f"read{i}_{j}"] = compile_path(path)
        if j:
            lines.append(f"{indent}if v is MISSING or v is None:")
            indent += "    "
        lines += [indent + line for line in _read_lines(path, f"read{i}_{j}")]
    lines.append(f"if v is MISSING or v is None:\n    c{i} = missing{i}()")
    fast = _fast_path(spec.type, spec.cap, spec.min)
    if fast is not None:
        test, value = fast
        lines.append(f"elif {test}:\n    c{i} = {value}")
    lines.append(f"else:\n    c{i} = convert{i}(v)")
    return lines


def _compile_code(name: str, specs: Sequence[FieldSpec], result: str) -> Callable[..., Any]:
    env = dict(_CODE_GLOBALS)
    body = [line for i, spec in enumerate(specs) for line in _field_lines(spec, i, env)]
    source = "def build(payload, parent):\n" + "".join(
        f"    {line}\n" for block in [*body, f"return {result}"] for line in block.split("\n")
    )
    exec(compile(source, f"<mapping {name}>", "exec"), env)  # noqa: S102 - source built above from literals
    build: Callable[..., Any] = env["build"]
    return build


def compile_row(name: str, specs: Sequence[FieldSpec]) -> RowBuilder:
    """One function payload, parent → the row of `specs` (a dict display, columns in order)."""
    return _compile_code(name, specs, "{" + ", ".join(f"{s.name!r}: c{i}" for i, s in enumerate(specs)) + "}")


def compile_field(spec: FieldSpec) -> Reader:
    """One function payload, parent → the column value of `spec` alone."""
    return _compile_code(spec.name, (spec,), "c0")
