"""What a loaded mapping is: streams of fields, and how one payload becomes rows.

`load` builds these from the TOML files and validates them; the pull calls
`StreamMapping.apply` on every payload. Row building is compiled on first use
(`codegen`), so loading the mappings stays cheap.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from connector.mapping.codegen import RowBuilder, compile_field, compile_row
from connector.mapping.convert import convert_value
from connector.mapping.errors import RecordError
from connector.mapping.paths import MISSING, Reader, compile_path, list_items, read_path
from connector.mapping.privacy import bank_columns, compile_redaction, secret_forms, tax_id_columns, without_values

__all__ = ["ChildSpec", "FieldSpec", "MappedRecord", "Mappings", "RecordError", "StreamMapping"]

_BANK_KINDS = ("bank_account_number", "bank_routing_number", "iban")


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
        return compile_field(self)

    def missing_value(self) -> Callable[[], Any]:
        """What a payload without the field yields; the default is converted once, here."""
        if self.required:
            message = f"missing required field {self.name} ({' | '.join(self.paths)})"

            def required() -> Any:
                raise RecordError(message)

            return required
        try:
            value = self._default_value()
        except RecordError:  # a default its own type refuses fails the records that need it, as before
            return lambda: self.convert(self.default)
        if isinstance(value, dict | list):
            return lambda: copy.deepcopy(value)  # rows must not share a mutable default
        return lambda: value

    def _default_value(self) -> Any:
        if self.type == "sum-money":
            return self.default if self.default is not None else 0
        if self.type == "str-list":
            return list(self.default) if self.default is not None else []
        return self.convert(self.default) if self.default is not None else None

    def convert(self, value: Any) -> Any:
        return convert_value(self.type, value, self.name, self.cap, self.min)


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
    def _row(self) -> RowBuilder:
        return compile_row(self.source, self.fields)

    @cached_property
    def _redact(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        return compile_redaction(self.redacted_paths)

    @cached_property
    def _children(self) -> tuple[tuple[ChildSpec, Reader, RowBuilder], ...]:
        return tuple(
            (child, compile_path(child.items), compile_row(f"{self.source}.{child.name}", child.fields))
            for child in self.children
        )

    @property
    def redacted_paths(self) -> tuple[str, ...]:
        return tuple(p for paths in self.sensitive.values() for p in paths) + self.redact

    def record_id(self, payload: Any) -> str | None:
        """Best-effort id for a quarantine row, even from a payload that fails the mapping."""
        return self.field_text(payload, self.key_field)

    def field_text(self, payload: Any, name: str) -> str | None:
        """Best-effort text of one field (an id, a customer) of a payload that may fail the mapping;
        None if the stream has no such field or the payload does not carry it as text or a number."""
        spec = next((f for f in self.fields if f.name == name), None)
        if spec is None or not isinstance(payload, dict):
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
        """`payload` as it may be kept (a quarantined record): sensitive paths and values removed."""
        if not isinstance(payload, dict):
            return None
        try:
            values = self._secret_values(payload)
        except RecordError:  # a secret that is not text: its path is removed below all the same
            values = {}
        return self._clean(payload, values)

    @cached_property
    def _secret_readers(self) -> tuple[tuple[str, tuple[Reader, ...]], ...]:
        return tuple((kind, tuple(compile_path(p) for p in paths)) for kind, paths in self.sensitive.items())

    def _secret_values(self, payload: dict[str, Any]) -> dict[str, str | None]:
        return {kind: _first_sensitive(payload, kind, readers) for kind, readers in self._secret_readers}

    def _clean(self, payload: dict[str, Any], values: dict[str, str | None]) -> dict[str, Any]:
        """The sensitive paths removed, then the values found there wherever else they sit."""
        out = self._redact(payload)
        secrets = secret_forms(values.values())
        return without_values(out, secrets) if secrets else out

    def apply(self, payload: Any, fingerprint_key: str) -> MappedRecord:
        """The canonical row (and child rows) of one payload; raises `RecordError` if it fails."""
        if not isinstance(payload, dict):
            raise RecordError(f"expected an object, got {type(payload).__name__}")
        row = self._row(payload, None)
        values: dict[str, str | None] = {}
        if self.sensitive:
            values = self._secret_values(payload)
            row.update(self._sensitive_columns(values, fingerprint_key))
        if self.has_raw:
            row["raw"] = self._clean(payload, values)
        children: dict[str, list[dict[str, Any]]] = {}
        for child, read_items, child_row in self._children:
            rows = children.setdefault(child.table, [])
            rows.extend(_child_rows(child, read_items, child_row, payload))
        return MappedRecord(key=str(row[self.key_field]), row=row, children=children)

    def _sensitive_columns(self, values: dict[str, str | None], key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "tax_id" in self.sensitive:
            out.update(tax_id_columns(values.get("tax_id"), key))
        if any(k in self.sensitive for k in _BANK_KINDS):
            account, routing, iban = (values.get(k) for k in _BANK_KINDS)
            out.update(bank_columns(account, routing, iban, key))
        return out


def _child_rows(
    child: ChildSpec, read_items: Reader, child_row: RowBuilder, payload: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of one child table (invoice lines, …) of `payload`, each linked to it as parent."""
    items = list_items(read_items(payload, None), child.items)
    if items is MISSING or items is None:
        return []
    rows: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise RecordError(f"{child.name}: expected objects in {child.items}")
        try:
            rows.append(child_row(item, payload))
        except RecordError as exc:
            item_id = item.get("id")
            raise RecordError(f"{child.name} {item_id}: {exc}") from None
    return rows


def _first_sensitive(payload: dict[str, Any], kind: str, readers: tuple[Reader, ...]) -> str | None:
    """The first non-blank value of a sensitive kind among its paths (as text), else None."""
    for read in readers:
        found = read(payload, None)
        if found is not MISSING and found is not None and str(found).strip() != "":
            if isinstance(found, dict | list):
                raise RecordError(f"{kind}: expected a string")
            return str(found)
    return None


@dataclass(frozen=True)
class Mappings:
    """Every stream mapping, by source name (`partnerstack.leads`, `stripe.invoices`, …)."""

    streams: dict[str, StreamMapping]

    def __getitem__(self, source: str) -> StreamMapping:
        return self.streams[source]
