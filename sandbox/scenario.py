"""Scenario files (``shared/spec/scenarios.md``): the state of PartnerStack and Stripe to serve.

Why: demos, tests and benchmarks all describe the upstream world in one JSON format. Loading is
tolerant by design: sections may be missing, records may be malformed, ids may repeat or be absent;
the sandbox must serve such data as given so the connector's quarantine paths can be exercised.

Records without ``created``/``created_at`` get the scenario's earliest time (so catalogue objects
such as products exist "before" the invoices that use them); an invoice payment without ``created``
takes its invoice's ``paid_at``.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import normalize_partnerstack as ps_norm
from . import normalize_stripe as st_norm
from .gcutil import paused_gc
from .timeutil import clock_ms, is_number, to_ms, to_seconds


@dataclass
class Scenario:
    """A loaded scenario: records normalized to each API's shape, keyed by section name."""

    name: str | None = None
    description: str | None = None
    now_ms: int | None = None
    partnerstack: dict[str, list[Any]] = field(default_factory=dict)
    stripe: dict[str, list[Any]] = field(default_factory=dict)
    finance: dict[str, Any] = field(default_factory=dict)
    expect: Any = None
    raw: dict[str, Any] = field(default_factory=dict)  # top-level keys other than the record sections

    def full_stripe(self, section: str) -> list[Any]:
        """A Stripe section as the API serves it: every key of Stripe's sample object present.

        Records are *stored* sparse (a million invoices with ~80 null keys each would not fit in
        memory); this renders deep copies, so callers may mutate what they get.
        """
        from .render import render

        type_name = st_norm.TYPES.get(section, section)
        return [copy.deepcopy(render(type_name, record)) for record in self.stripe.get(section, [])]


def read_json(path_or_dict: str | Path | bytes | dict[str, Any]) -> dict[str, Any]:
    """The scenario document as a dict; a path, JSON text/bytes or an already-parsed dict."""
    if isinstance(path_or_dict, dict):
        return path_or_dict
    if isinstance(path_or_dict, bytes) or (
        isinstance(path_or_dict, str) and path_or_dict.lstrip().startswith("{")
    ):
        data = json.loads(path_or_dict, parse_float=Decimal)
    else:
        data = json.loads(Path(path_or_dict).read_text(encoding="utf-8"), parse_float=Decimal)
    return data if isinstance(data, dict) else {}


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _records(section: dict[str, Any], name: str) -> list[Any]:
    value = section.get(name)
    return list(value) if isinstance(value, list) else []


def earliest_ms(doc: dict[str, Any]) -> int | None:
    """The earliest creation time (ms) named anywhere in the document, if any."""
    best: int | None = None
    for section_name, key, convert, scale in (
        ("partnerstack", "created_at", to_ms, 1),
        ("stripe", "created", to_seconds, 1000),
    ):
        section = _section(doc, section_name)
        for records in section.values():
            if not isinstance(records, list):
                continue
            for record in records:
                if not isinstance(record, dict):
                    continue
                value = convert(record.get(key))
                if is_number(value):
                    ms = int(value) * scale
                    best = ms if best is None or ms < best else best
    return best


def normalize_stripe_sections(
    stripe: dict[str, Any],
    default_created_s: int | None,
    known_invoices: dict[Any, Any] | None = None,
) -> dict[str, list[Any]]:
    """Normalize every Stripe section; invoices first so payments can borrow their ``paid_at``."""
    out: dict[str, list[Any]] = {}
    invoices: dict[Any, Any] = dict(known_invoices or {})
    order = ["invoices"] + [name for name in st_norm.TYPES if name != "invoices"]
    for name in order:
        if name not in stripe:
            continue
        type_name = st_norm.TYPES[name]
        records = [
            st_norm.normalize(type_name, r, default_created_s, lambda i: _lookup(invoices, i))
            for r in _records(stripe, name)
        ]
        if name == "invoices":
            for record in records:
                if isinstance(record, dict):
                    _remember(invoices, record.get("id"), record)
        out[name] = records
    return out


def _lookup(index: dict[Any, Any], key: Any) -> Any:
    try:
        return index.get(key)
    except TypeError:
        return None


def _remember(index: dict[Any, Any], key: Any, value: Any) -> None:
    with contextlib.suppress(TypeError):
        index[key] = value


def load_scenario(path_or_dict: str | Path | bytes | dict[str, Any]) -> Scenario:
    """Load and normalize a scenario; never raises on malformed records (only on unreadable JSON)."""
    with paused_gc():
        return _load(read_json(path_or_dict))


def _load(doc: dict[str, Any]) -> Scenario:
    now = clock_ms(doc.get("now"))
    first = earliest_ms(doc)
    default_ms = first if first is not None else now
    default_s = default_ms // 1000 if default_ms is not None else None
    ps_section = _section(doc, "partnerstack")
    partnerstack = {
        name: [ps_norm.normalize(r, default_ms, name) for r in _records(ps_section, name)]
        for name in ps_norm.TYPES
        if name in ps_section
    }
    stripe = normalize_stripe_sections(_section(doc, "stripe"), default_s)
    name = doc.get("name")
    description = doc.get("description")
    return Scenario(
        name=name if isinstance(name, str) else None,
        description=description if isinstance(description, str) else None,
        now_ms=now,
        partnerstack=partnerstack,
        stripe=stripe,
        finance=_section(doc, "finance"),
        expect=doc.get("expect"),
        # The top level only: keeping the raw record lists would double a big world's memory.
        raw={k: v for k, v in doc.items() if k not in ("partnerstack", "stripe")},
    )
