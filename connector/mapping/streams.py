"""Mapping files: which payload field feeds which canonical column, as data.

A mapping file (`mappings/partnerstack.toml`, `mappings/stripe.toml`) has one
`[streams.<name>]` table per upstream stream:

    [streams.partnerships]
    table = "ps_partners"                       # a table of connector/store/models.py
    [streams.partnerships.fields]
    key = { path = "key", type = "str", required = true }
    country = { path = ["address.country", "fields.country"], type = "str" }   # fallbacks
    [streams.partnerships.sensitive]             # never stored; presence/last4/fingerprint are
    tax_id = "fields.tax_id"

Paths are dotted; `name[]` walks every element of a list (for `sum-money`, `str-list`);
`@parent.` reads the enclosing object (for child tables such as invoice lines). A stream
may have `[streams.<name>.children.<child>]` with `table`, `items` (the list path) and
its own `fields`. Everything is validated when loaded; a bad file is a `ConfigError`
naming the file and key, so a seller's mistake stops the run before any request.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Column, String, Table

from adapters.partnerstack.streams import STREAMS as PARTNERSTACK_STREAMS
from adapters.stripe.streams import STREAMS as STRIPE_STREAMS
from connector.config import ConfigError, Settings
from connector.mapping.privacy import bank_columns, compile_redaction, tax_id_columns
from connector.money import MINOR_EXPONENTS, is_currency
from connector.store import models

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "mappings"

TYPES = frozenset(
    {"str", "int", "int-money", "bool", "datetime-ms", "datetime-s", "date", "json", "currency"}
    | {"sum-money", "str-list"}
)
SENSITIVE_KINDS = ("tax_id", "bank_account_number", "bank_routing_number", "iban")
_FIELD_KEYS = frozenset({"path", "type", "required", "default", "min"})
_TEXT_CAP = 10_000  # a Text column still refuses a runaway value
_INT = re.compile(r"^[+-]?\d+$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Streams each source's mapping file must describe, so a missing one fails at start (declared by each adapter).
REQUIRED_STREAMS: dict[str, tuple[str, ...]] = {
    streams[0].source: tuple(s.name for s in streams) for streams in (PARTNERSTACK_STREAMS, STRIPE_STREAMS)
}


class RecordError(ValueError):
    """A payload that fails its mapping: the record is quarantined with this reason."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# ---------------------------------------------------------------- reading payloads


def _walk(node: Any, parts: Sequence[str]) -> Any:
    for i, part in enumerate(parts):
        if part.endswith("[]"):
            items = node.get(part[:-2], MISSING) if isinstance(node, dict) else MISSING
            if items is MISSING or items is None:
                return items
            if isinstance(items, dict) and isinstance(items.get("data"), list):
                items = items["data"]  # a Stripe list object
            if not isinstance(items, list):
                raise RecordError(f"{part[:-2]} is not a list")
            return [_walk(item, parts[i + 1 :]) for item in items]
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def read_path(payload: dict[str, Any], path: str, parent: dict[str, Any] | None = None) -> Any:
    """The value at dotted `path` (MISSING when absent; `@parent.` reads the enclosing object)."""
    if path.startswith("@parent."):
        return _walk(parent or {}, path[len("@parent.") :].split("."))
    return _walk(payload, path.split("."))


Reader = Callable[[dict[str, Any], "dict[str, Any] | None"], Any]


def compile_path(path: str) -> Reader:
    """`read_path` for one fixed path, split once: splitting and walking it per record was a
    tenth of the pull. Plain one- and two-step paths (nearly all of them) get a direct reader."""
    if path.startswith("@parent."):
        inner = compile_path(path[len("@parent.") :])

        def from_parent(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
            return inner(parent or {}, None)

        return from_parent
    parts = tuple(path.split("."))
    if any(p.endswith("[]") for p in parts):

        def walk(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
            return _walk(payload, parts)

        return walk
    if len(parts) == 1:
        first = parts[0]

        def one(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
            return payload.get(first, MISSING)

        return one
    first, rest = parts[0], parts[1:]

    def nested(payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
        node = payload.get(first, MISSING)
        for part in rest:
            if not isinstance(node, dict):
                return MISSING
            node = node.get(part, MISSING)
        return node

    return nested


# ---------------------------------------------------------------- converting values


_INT64_MAX = 2**63 - 1  # the widest integer column both databases store


def _as_int(value: Any, name: str) -> int:
    out = _to_int(value, name)
    if not -_INT64_MAX - 1 <= out <= _INT64_MAX:
        raise RecordError(f"{name}: {str(out)[:30]} is out of range for a 64-bit integer")
    return out


def _to_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise RecordError(f"{name}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INT.match(value.strip()):
        return int(value.strip())
    raise RecordError(f"{name}: expected an integer, got {value!r:.60}")


def _as_str(value: Any, name: str, cap: int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RecordError(f"{name}: expected a string, got {type(value).__name__}")
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError(f"{name}: not valid UTF-8") from None
    if "\x00" in text:
        raise RecordError(f"{name}: contains a NUL character")
    if len(text) > cap:
        raise RecordError(f"{name}: {len(text)} characters, longer than {cap}")
    return text


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise RecordError(f"{name}: expected a boolean, got {value!r:.60}")


def _as_datetime(value: Any, name: str, unit_ms: bool) -> dt.datetime:
    try:
        if isinstance(value, str) and not _INT.match(value.strip()):
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
        number = _as_int(value, name)
        delta = dt.timedelta(milliseconds=number) if unit_ms else dt.timedelta(seconds=number)
        when = _EPOCH + delta
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, RecordError):
            raise RecordError(f"{name}: bad date {value!r:.60}") from None
        raise RecordError(f"{name}: bad date {value!r:.60}") from None
    if not 1970 <= when.year <= 2200:
        raise RecordError(f"{name}: date {when.isoformat()} out of range")
    return when


def _as_date(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected a YYYY-MM-DD date, got {value!r:.60}")
    try:
        day = dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RecordError(f"{name}: bad date {value!r:.60}") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


# ---------------------------------------------------------------- compiling fields to code
#
# Mapping every record field by field through generic readers and converters was half the
# pull. A stream's fields are instead compiled, once per load, into one Python function that
# reads each path with plain `dict.get` and accepts the value types upstream nearly always
# sends inline; anything else goes through `FieldSpec.convert`, so errors and quarantine
# reasons are those of the general path. Only literals built here (and `repr` of the
# mapping's path parts and column names) enter the source.

_SECOND = dt.timedelta(seconds=1)
_MILLISECOND = dt.timedelta(milliseconds=1)
_MAX_S = (dt.datetime(2201, 1, 1, tzinfo=dt.UTC) - _EPOCH) // _SECOND  # year 2200 is the last accepted
_MAX_MS = _MAX_S * 1000
_CURRENCY_SPELLINGS: dict[str, str] = {
    **{code: code for code in MINOR_EXPONENTS},
    **{code.upper(): code for code in MINOR_EXPONENTS},
}
_CODE_GLOBALS: dict[str, Any] = {
    "MISSING": MISSING,
    "_EMPTY": {},  # `parent or {}`; never written to
    "_CURRENCY_SPELLINGS": _CURRENCY_SPELLINGS,
    "_EPOCH": _EPOCH,
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
        low = -_INT64_MAX - 1 if minimum is None else max(minimum, -_INT64_MAX - 1)
        return (f"type(v) is int and {low} <= v <= {_INT64_MAX}", "v")
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
    if path.startswith("@parent."):
        base, path = "(parent or _EMPTY)", path[len("@parent.") :]
    parts = path.split(".")
    if any(p.endswith("[]") for p in parts):
        return [f"v = {reader}(payload, parent)"]
    lines = [f"v = {base}.get({parts[0]!r}, MISSING)"]
    lines += [f"v = v.get({part!r}, MISSING) if isinstance(v, dict) else MISSING" for part in parts[1:]]
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


def compile_row(
    name: str, specs: Sequence[FieldSpec]
) -> Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]:
    """One function payload, parent → the row of `specs` (a dict display, columns in order)."""
    return _compile_code(name, specs, "{" + ", ".join(f"{s.name!r}: c{i}" for i, s in enumerate(specs)) + "}")


# ---------------------------------------------------------------- the mapping model


@dataclass(frozen=True)
class FieldSpec:
    name: str
    paths: tuple[str, ...]
    type: str
    required: bool = False
    default: Any = None
    min: int | None = None
    cap: int = 255

    @cached_property
    def extract(self) -> Reader:
        """payload, parent → column value; compiled on first use (a stream compiles its rows whole)."""
        return _compile_code(self.name, (self,), "c0")

    def missing_value(self) -> Callable[[], Any]:
        """What a payload without the field yields; the default is converted once, here."""
        if self.required:
            message = f"missing required field {self.name} ({' | '.join(self.paths)})"

            def required() -> Any:
                raise RecordError(message)

            return required
        try:
            if self.type == "sum-money":
                value = self.default if self.default is not None else 0
            elif self.type == "str-list":
                value = list(self.default) if self.default is not None else []
            else:
                value = self.convert(self.default) if self.default is not None else None
        except RecordError:  # a default its own type refuses fails the records that need it, as before
            return lambda: self.convert(self.default)
        if isinstance(value, dict | list):
            return lambda: copy.deepcopy(value)  # rows must not share a mutable default
        return lambda: value

    def convert(self, value: Any) -> Any:
        name, kind = self.name, self.type
        out: Any
        if kind == "json":
            return value
        if kind in ("int", "int-money"):
            out = _as_int(value, name)
        elif kind == "sum-money":
            values = value if isinstance(value, list) else [value]
            out = sum(_as_int(v, name) for v in values if v is not None and v is not MISSING)
        elif kind == "str":
            out = _as_str(value, name, self.cap)
        elif kind == "str-list":
            values = value if isinstance(value, list) else [value]
            out = [_as_str(v, name, 255) for v in values if v is not None and v is not MISSING]
        elif kind == "currency":
            if not is_currency(value):
                raise RecordError(f"{name}: unknown currency {value!r:.20}")
            out = str(value).strip().lower()
        elif kind == "bool":
            out = _as_bool(value, name)
        elif kind == "datetime-ms":
            out = _as_datetime(value, name, unit_ms=True)
        elif kind == "datetime-s":
            out = _as_datetime(value, name, unit_ms=False)
        elif kind == "date":
            out = _as_date(value, name)
        else:  # pragma: no cover - validated at load
            raise RecordError(f"{name}: unknown type {kind}")
        if self.min is not None and isinstance(out, int) and out < self.min:
            raise RecordError(f"{name}: {out} is below {self.min}")
        return out


@dataclass(frozen=True)
class ChildSpec:
    name: str
    table: str
    items: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class MappedRecord:
    key: str
    row: dict[str, Any]
    children: dict[str, list[dict[str, Any]]]  # table name → rows


@dataclass(frozen=True)
class StreamMapping:
    source: str  # e.g. "stripe.invoices": the quarantine source and stats name
    table: str
    key_field: str
    fields: tuple[FieldSpec, ...]
    sensitive: dict[str, tuple[str, ...]] = field(default_factory=dict)
    redact: tuple[str, ...] = ()
    children: tuple[ChildSpec, ...] = ()
    has_raw: bool = False
    # Compiled from the fields above on first use, so loading the mappings stays cheap.
    @cached_property
    def _row(self) -> Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]:
        return compile_row(self.source, self.fields)

    @cached_property
    def _redact(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return compile_redaction(self.redacted_paths)

    @cached_property
    def _children(self) -> tuple[tuple[ChildSpec, Reader, Callable[[dict[str, Any], Any], dict[str, Any]]], ...]:
        return tuple(
            (child, compile_path(child.items), compile_row(f"{self.source}.{child.name}", child.fields))
            for child in self.children
        )

    @property
    def redacted_paths(self) -> tuple[str, ...]:
        return tuple(p for paths in self.sensitive.values() for p in paths) + self.redact

    def record_id(self, payload: Any) -> str | None:
        """Best-effort id for a quarantine row, even from a payload that fails the mapping."""
        spec = next(f for f in self.fields if f.name == self.key_field)
        if not isinstance(payload, dict):
            return None
        for path in spec.paths:
            try:
                value = read_path(payload, path)
            except RecordError:
                continue
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)[:255]
        return None

    def redacted(self, payload: Any) -> dict[str, Any] | None:
        return self._redact(payload) if isinstance(payload, dict) else None

    def apply(self, payload: Any, fingerprint_key: str) -> MappedRecord:
        """The canonical row (and child rows) of one payload; raises `RecordError` if it fails."""
        if not isinstance(payload, dict):
            raise RecordError(f"expected an object, got {type(payload).__name__}")
        row = self._row(payload, None)
        if self.sensitive:
            row.update(self._sensitive_columns(payload, fingerprint_key))
        if self.has_raw:
            row["raw"] = self._redact(payload)
        children: dict[str, list[dict[str, Any]]] = {}
        for child, read_items, child_row in self._children:
            items = read_items(payload, None)
            if items is MISSING or items is None:
                items = []
            if isinstance(items, dict) and isinstance(items.get("data"), list):
                items = items["data"]
            if not isinstance(items, list):
                raise RecordError(f"{child.items} is not a list")
            rows = children.setdefault(child.table, [])
            for item in items:
                if not isinstance(item, dict):
                    raise RecordError(f"{child.name}: expected objects in {child.items}")
                try:
                    rows.append(child_row(item, payload))
                except RecordError as exc:
                    item_id = item.get("id")
                    raise RecordError(f"{child.name} {item_id}: {exc}") from None
        return MappedRecord(key=str(row[self.key_field]), row=row, children=children)

    def _sensitive_columns(self, payload: dict[str, Any], key: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for kind, paths in self.sensitive.items():
            values[kind] = None
            for path in paths:
                found = read_path(payload, path)
                if found is not MISSING and found is not None and str(found).strip() != "":
                    if isinstance(found, dict | list):
                        raise RecordError(f"{kind}: expected a string")
                    values[kind] = str(found)
                    break
        out: dict[str, Any] = {}
        if "tax_id" in self.sensitive:
            out.update(tax_id_columns(values.get("tax_id"), key))
        if any(k in self.sensitive for k in ("bank_account_number", "bank_routing_number", "iban")):
            out.update(
                bank_columns(
                    values.get("bank_account_number"), values.get("bank_routing_number"), values.get("iban"), key
                )
            )
        return out


@dataclass(frozen=True)
class Mappings:
    """Every stream mapping, by source name (`partnerstack.leads`, `stripe.invoices`, …)."""

    streams: dict[str, StreamMapping]

    def __getitem__(self, source: str) -> StreamMapping:
        return self.streams[source]


# ---------------------------------------------------------------- loading and validating

_SENSITIVE_COLUMNS = {
    "tax_id": ("tax_id_present", "tax_id_last4", "tax_id_fingerprint"),
    "bank_account_number": ("bank_kind", "bank_last4", "bank_fingerprint"),
    "bank_routing_number": ("bank_kind", "bank_last4", "bank_fingerprint"),
    "iban": ("bank_kind", "bank_last4", "bank_fingerprint"),
}


def _paths(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(p, str) and p for p in value):
        return tuple(value)
    raise ConfigError(f"{where}: path must be a dotted string or a non-empty list of them")


def _cap_for(column: Column[Any]) -> int:
    if isinstance(column.type, String) and column.type.length:
        return int(column.type.length)
    return _TEXT_CAP


def _field(name: str, spec: Any, table: Table, where: str) -> FieldSpec:
    if name not in table.columns:
        raise ConfigError(f"{where}: unknown canonical field {name!r} (table {table.name})")
    if isinstance(spec, str | list):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a path or a table with path and type")
    unknown = set(spec) - _FIELD_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = spec.get("type", "str")
    if kind not in TYPES:
        raise ConfigError(f"{where}.type: bad type {kind!r} (one of {', '.join(sorted(TYPES))})")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise ConfigError(f"{where}.required: must be true or false")
    minimum = spec.get("min")
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int)):
        raise ConfigError(f"{where}.min: must be an integer")
    return FieldSpec(
        name=name,
        paths=_paths(spec.get("path"), f"{where}.path"),
        type=kind,
        required=required,
        default=spec.get("default"),
        min=minimum,
        cap=_cap_for(table.columns[name]),
    )


def _table(name: Any, where: str) -> Table:
    table = models.Base.metadata.tables.get(name) if isinstance(name, str) else None
    if table is None:
        raise ConfigError(f"{where}: unknown table {name!r}")
    return table


def _fields(raw: Any, table: Table, where: str) -> tuple[FieldSpec, ...]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: missing or empty fields table")
    specs = tuple(_field(name, spec, table, f"{where}.{name}") for name, spec in raw.items())
    mapped = {s.name for s in specs}
    for pk in table.primary_key.columns:
        if pk.name not in mapped:
            raise ConfigError(f"{where}: the key field {pk.name!r} is not mapped")
        spec = next(s for s in specs if s.name == pk.name)
        if not spec.required:
            raise ConfigError(f"{where}.{pk.name}: the key field must be required = true")
    return specs


def _stream(source: str, name: str, raw: Any, where: str) -> StreamMapping:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(raw) - {"table", "fields", "sensitive", "redact", "children"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    table = _table(raw.get("table"), f"{where}.table")
    fields = _fields(raw.get("fields"), table, f"{where}.fields")
    pks = [c.name for c in table.primary_key.columns]
    if len(pks) != 1:
        raise ConfigError(f"{where}.table: {table.name} has no single key column")
    sensitive: dict[str, tuple[str, ...]] = {}
    for kind, paths in (raw.get("sensitive") or {}).items():
        if kind not in SENSITIVE_KINDS:
            raise ConfigError(f"{where}.sensitive.{kind}: unknown kind (one of {', '.join(SENSITIVE_KINDS)})")
        missing_cols = [c for c in _SENSITIVE_COLUMNS[kind] if c not in table.columns]
        if missing_cols:
            raise ConfigError(f"{where}.sensitive.{kind}: table {table.name} cannot hold it")
        sensitive[kind] = _paths(paths, f"{where}.sensitive.{kind}")
    redact = raw.get("redact", [])
    if not isinstance(redact, list) or not all(isinstance(p, str) for p in redact):
        raise ConfigError(f"{where}.redact: must be a list of dotted paths")
    children: list[ChildSpec] = []
    for child_name, child in (raw.get("children") or {}).items():
        cw = f"{where}.children.{child_name}"
        if not isinstance(child, dict) or set(child) - {"table", "items", "fields"}:
            raise ConfigError(f"{cw}: expected table, items and fields")
        child_table = _table(child.get("table"), f"{cw}.table")
        items = child.get("items")
        if not isinstance(items, str) or not items:
            raise ConfigError(f"{cw}.items: must be the dotted path of the list")
        child_fields = _fields(child.get("fields"), child_table, f"{cw}.fields")
        if not any(f.paths[0].startswith("@parent.") for f in child_fields):
            raise ConfigError(f"{cw}.fields: one field must link to the parent (path = \"@parent.<id>\")")
        children.append(ChildSpec(child_name, child_table.name, items, child_fields))
    return StreamMapping(
        source=f"{source}.{name}",
        table=table.name,
        key_field=pks[0],
        fields=fields,
        sensitive=sensitive,
        redact=tuple(redact),
        children=tuple(children),
        has_raw="raw" in table.columns,
    )


def load_mapping_file(path: Path, source: str) -> dict[str, StreamMapping]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"mapping file {path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"mapping file {path}: {exc}") from None
    streams = data.get("streams")
    if not isinstance(streams, dict):
        raise ConfigError(f"mapping file {path}: no [streams.<name>] tables")
    out = {f"{source}.{name}": _stream(source, name, raw, f"{path}: streams.{name}") for name, raw in streams.items()}
    for name in REQUIRED_STREAMS.get(source, ()):
        if f"{source}.{name}" not in out:
            raise ConfigError(f"{path}: streams.{name}: missing (every {source} stream needs a mapping)")
    return out


def mapping_dir(settings: Settings) -> Path:
    return Path(settings.mappings.dir) if settings.mappings.dir else PACKAGE_DIR


def load_mappings(settings: Settings, sources: Iterable[str] = ("partnerstack", "stripe")) -> Mappings:
    """Load and validate `<dir>/<source>.toml` for each source; `ConfigError` on any fault."""
    base = mapping_dir(settings)
    streams: dict[str, StreamMapping] = {}
    for source in sources:
        streams.update(load_mapping_file(base / f"{source}.toml", source))
    return Mappings(streams)
