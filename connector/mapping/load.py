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

Paths are dotted (see `paths`); a step `name[attr=value]` selects a list element
(`fields[api_name=tax_form].value`). A stream may have `[streams.<name>.children.<child>]`
with `table`, `items` (the list path) and its own `fields`. Everything is validated when
loaded; a bad file is a `ConfigError` naming the file and key, so a seller's mistake stops
the run before any request.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, String, Table

from adapters.partnerstack.streams import STREAMS as PARTNERSTACK_STREAMS
from adapters.stripe.streams import STREAMS as STRIPE_STREAMS
from connector.config import ConfigError, Settings
from connector.mapping.convert import CONVERTERS
from connector.mapping.model import ChildSpec, FieldSpec, Mappings, StreamMapping
from connector.mapping.paths import PARENT, check_path
from connector.store import models

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "mappings"

TYPES = frozenset(CONVERTERS)
SENSITIVE_KINDS = ("tax_id", "bank_account_number", "bank_routing_number", "iban")
_FIELD_KEYS = frozenset({"path", "type", "required", "default", "min"})
_STREAM_KEYS = frozenset({"table", "fields", "sensitive", "redact", "children"})
_CHILD_KEYS = frozenset({"table", "items", "fields"})
_TEXT_CAP = 10_000  # a Text column still refuses a runaway value

# Streams each source's mapping file must describe, so a missing one fails at start (declared by each adapter).
REQUIRED_STREAMS: dict[str, tuple[str, ...]] = {
    streams[0].source: tuple(s.name for s in streams) for streams in (PARTNERSTACK_STREAMS, STRIPE_STREAMS)
}

# The columns a table needs to hold each sensitive kind's presence, last four and fingerprint.
_SENSITIVE_COLUMNS = {
    "tax_id": ("tax_id_present", "tax_id_last4", "tax_id_fingerprint"),
    "bank_account_number": ("bank_kind", "bank_last4", "bank_fingerprint"),
    "bank_routing_number": ("bank_kind", "bank_last4", "bank_fingerprint"),
    "iban": ("bank_kind", "bank_last4", "bank_fingerprint"),
}


def _paths(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (_checked(value, where),)
    if isinstance(value, list) and value and all(isinstance(p, str) and p for p in value):
        return tuple(_checked(p, where) for p in value)
    raise ConfigError(f"{where}: path must be a dotted string or a non-empty list of them")


def _checked(path: str, where: str) -> str:
    try:
        check_path(path)
    except ValueError as exc:
        raise ConfigError(f"{where}: {path!r}: {exc}") from None
    return path


def _cap_for(column: Column[Any]) -> int:
    if isinstance(column.type, String) and column.type.length:
        return int(column.type.length)
    return _TEXT_CAP


def _refuse_unknown_keys(raw: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _field(name: str, spec: Any, table: Table, where: str) -> FieldSpec:
    if name not in table.columns:
        raise ConfigError(f"{where}: unknown canonical field {name!r} (table {table.name})")
    if isinstance(spec, str | list):
        spec = {"path": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a path or a table with path and type")
    _refuse_unknown_keys(spec, _FIELD_KEYS, where)
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


def _sensitive(raw: Any, table: Table, where: str) -> dict[str, tuple[str, ...]]:
    """`[sensitive]`: kind → paths, for a table that has the columns to hold what is kept of it."""
    sensitive: dict[str, tuple[str, ...]] = {}
    for kind, paths in (raw or {}).items():
        if kind not in SENSITIVE_KINDS:
            raise ConfigError(f"{where}.{kind}: unknown kind (one of {', '.join(SENSITIVE_KINDS)})")
        missing_cols = [c for c in _SENSITIVE_COLUMNS[kind] if c not in table.columns]
        if missing_cols:
            raise ConfigError(f"{where}.{kind}: table {table.name} cannot hold it")
        sensitive[kind] = _paths(paths, f"{where}.{kind}")
    return sensitive


def _redact(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ConfigError(f"{where}: must be a list of dotted paths")
    return tuple(_checked(p, where) for p in raw)


def _child(name: str, raw: Any, where: str) -> ChildSpec:
    if not isinstance(raw, dict) or set(raw) - _CHILD_KEYS:
        raise ConfigError(f"{where}: expected table, items and fields")
    table = _table(raw.get("table"), f"{where}.table")
    items = raw.get("items")
    if not isinstance(items, str) or not items:
        raise ConfigError(f"{where}.items: must be the dotted path of the list")
    _checked(items, f"{where}.items")
    fields = _fields(raw.get("fields"), table, f"{where}.fields")
    if not any(f.paths[0].startswith(PARENT) for f in fields):
        raise ConfigError(f"{where}.fields: one field must link to the parent (path = \"@parent.<id>\")")
    return ChildSpec(name, table.name, items, fields)


def _stream(source: str, name: str, raw: Any, where: str) -> StreamMapping:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    _refuse_unknown_keys(raw, _STREAM_KEYS, where)
    table = _table(raw.get("table"), f"{where}.table")
    fields = _fields(raw.get("fields"), table, f"{where}.fields")
    pks = [c.name for c in table.primary_key.columns]
    if len(pks) != 1:
        raise ConfigError(f"{where}.table: {table.name} has no single key column")
    sensitive = _sensitive(raw.get("sensitive"), table, f"{where}.sensitive")
    redact = _redact(raw.get("redact", []), f"{where}.redact")
    children = (raw.get("children") or {}).items()
    return StreamMapping(
        source=f"{source}.{name}",
        table=table.name,
        key_field=pks[0],
        fields=fields,
        sensitive=sensitive,
        redact=redact,
        children=tuple(_child(child, spec, f"{where}.children.{child}") for child, spec in children),
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
