"""Mapping files: validation at load, conversions, privacy, and a seller's renamed fields."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from adapters.files import read_marketing_costs
from connector.config import ConfigError, Settings
from connector.mapping import MISSING, PACKAGE_DIR, FieldSpec, RecordError, load_mappings, read_path
from connector.mapping.privacy import fingerprint, last4, redact_payload
from connector.money import UnknownCurrency, minor_exponent
from connector.pull import pull
from sandbox.server import SandboxServer
from tests.pull.conftest import MakeCtx, sandbox_settings
from tests.pull.scenarios import consio
from tests.pull.snapshot import store_snapshot

KEY = "test-key"


def _copy_mappings(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_unknown_canonical_field_is_a_config_error_naming_file_and_key(tmp_path: Path) -> None:
    d = _copy_mappings(tmp_path)
    _edit(d / "stripe.toml", 'category = { path = "metadata.category"', 'kategory = { path = "metadata.category"')
    with pytest.raises(ConfigError, match=r"stripe\.toml: streams\.products\.fields\.kategory: unknown canonical"):
        load_mappings(Settings.model_validate({"mappings": {"dir": str(d)}}))


def test_bad_type_is_a_config_error(tmp_path: Path) -> None:
    d = _copy_mappings(tmp_path)
    _edit(d / "partnerstack.toml", '"fields.consent"], type = "bool" }', '"fields.consent"], type = "boolean" }')
    with pytest.raises(ConfigError, match=r"partnerstack\.toml: streams\.leads\.fields\.consent\.type: bad type"):
        load_mappings(Settings.model_validate({"mappings": {"dir": str(d)}}))


def test_missing_stream_and_unmapped_key_are_config_errors(tmp_path: Path) -> None:
    d = _copy_mappings(tmp_path)
    _edit(d / "partnerstack.toml", "streams.deals", "streams.dealz")
    with pytest.raises(ConfigError, match=r"streams\.deals: missing"):
        load_mappings(Settings.model_validate({"mappings": {"dir": str(d)}}))
    d2 = _copy_mappings(tmp_path / "b")
    _edit(d2 / "stripe.toml", 'id = { path = "id", type = "str", required = true }\nname', "name")
    with pytest.raises(ConfigError, match=r"streams\.products\.fields: the key field 'id' is not mapped"):
        load_mappings(Settings.model_validate({"mappings": {"dir": str(d2)}}))


def test_conversions_and_record_errors() -> None:
    m = load_mappings(Settings())
    invoice = {
        "id": "in_1", "currency": "JPY", "amount_due": 500, "amount_paid": Decimal("500"), "amount_remaining": "0",
        "created": 1769904000, "status_transitions": {"paid_at": 1769990400},
        "total_taxes": [{"amount": 30}, {"amount": 12}], "lines": {"data": [], "has_more": False},
        "parent": {"subscription_details": {"subscription": "sub_1"}},
    }
    row = m["stripe.invoices"].apply(invoice, KEY).row
    assert (row["currency"], row["amount_paid"], row["amount_remaining"], row["tax"]) == ("jpy", 500, 0, 42)
    assert row["paid_at"] == dt.datetime(2026, 2, 2, tzinfo=dt.UTC)
    assert row["subscription_id"] == "sub_1"
    for broken, reason in [
        ({**invoice, "amount_paid": Decimal("1.5")}, "amount_paid: expected an integer"),
        ({**invoice, "amount_paid": True}, "amount_paid: expected an integer, got a boolean"),
        ({**invoice, "created": "yesterday"}, "created: bad date"),
        ({**invoice, "currency": "usdx"}, "unknown currency"),
        ({k: v for k, v in invoice.items() if k != "id"}, "missing required field id"),
    ]:
        with pytest.raises(RecordError, match=reason):
            m["stripe.invoices"].apply(broken, KEY)
    lead = m["partnerstack.leads"].apply({"key": "lead_1", "fields": {"consent": "yes"}, "created_at": 0}, KEY).row
    assert lead["consent"] is True and lead["created_at"] == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(RecordError, match="not valid UTF-8"):
        m["partnerstack.leads"].apply({"key": "lead_2", "status": "bad \udcff byte"}, KEY)


def test_privacy_helpers() -> None:
    assert last4("DE89 3704 0044 0532 0130 00") == "3000"
    assert last4("123-45-6789") == "6789"
    assert fingerprint("123-45-6789", "k") == fingerprint("123456789", "k") != fingerprint("123456789", "other")
    payload: dict[str, Any] = {"fields": {"tax_id": "1", "iban": "2", "city": "x"}, "list": [{"secret": 1}]}
    out = redact_payload(payload, ["fields.tax_id", "fields.iban", "list[].secret", "absent.path"])
    assert out == {"fields": {"city": "x"}, "list": [{}]}
    assert payload["fields"]["tax_id"] == "1"  # the original is left alone


def test_changed_bank_account_changes_the_fingerprint() -> None:
    m = load_mappings(Settings())["partnerstack.partnerships"]
    base = {"key": "part_1", "fields": {"bank_account_number": "000123456789", "bank_routing_number": "021000021"}}
    moved = {"key": "part_1", "fields": {"bank_account_number": "000123456789", "bank_routing_number": "011000015"}}
    a, b = m.apply(base, KEY).row, m.apply(moved, KEY).row
    assert a["bank_last4"] == b["bank_last4"] == "6789"
    assert a["bank_fingerprint"] != b["bank_fingerprint"]


def test_currency_exponents() -> None:
    assert (minor_exponent("JPY"), minor_exponent("usd"), minor_exponent("KWD"), minor_exponent("clf")) == (0, 2, 3, 4)
    with pytest.raises(UnknownCurrency):
        minor_exponent("xyz")


def test_cost_file_rows(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_bytes(
        b"customer,date,amount,currency,note\n"
        b"cus_A,2026-02-01,5000,usd,trade show\n"
        b"cus_A,2026-02-01,5000,USD,trade show\n"
        b"cus_B,2026-02-30,10,usd,\n"
        b"cus_C,2026-03-01,10,usd,caf\xe9\n"
    )
    rows = read_marketing_costs(path)
    good = [r.row for r in rows if r.row is not None]
    assert [(g["customer_id"], g["amount"], g["currency"]) for g in good] == [("cus_A", 5000, "usd")] * 2
    assert good[0]["id"] != good[1]["id"]  # two identical rows are two costs
    assert [(r.source_id, r.error) for r in rows if r.row is None] == [
        ("costs.csv:4", "bad date '2026-02-30'"),
        ("costs.csv:5", "note is not valid UTF-8"),
    ]


def test_a_seller_with_other_field_names_changes_only_a_mapping_file(
    tmp_path: Path, engine: Engine, database_url: str, make_ctx: MakeCtx
) -> None:
    scenario = consio()
    for partner in scenario["partnerstack"]["partnerships"]:
        partner["fields"]["tax_document"] = partner["fields"].pop("tax_form")
    scenario["stripe"]["products"][0]["metadata"] = {"kind": "software"}
    d = _copy_mappings(tmp_path)
    _edit(d / "partnerstack.toml", '"fields[api_name=tax_form].value"', '"fields[api_name=tax_document].value"')
    _edit(d / "stripe.toml", 'path = "metadata.category"', 'path = "metadata.kind"')
    with SandboxServer(scenario) as srv:
        pull(make_ctx(sandbox_settings(srv, database_url, mappings={"dir": str(d)})))
    snap = store_snapshot(engine)
    assert {r["key"]: r["tax_form"] for r in snap["ps_partners"]} == {"part_ada": "W-9", "part_bob": "W-8BEN-E"}
    assert [(r["id"], r["category"]) for r in snap["st_products"]] == [("prod_platform", "software")]


def test_json_safe_keeps_clean_payloads_and_cleans_the_rest() -> None:
    from decimal import Decimal

    from connector.pull import json_safe

    clean = {"id": "in_1", "amount": 100, "rate": Decimal("0.20"), "name": "Ünïcode ok", "lines": [{"a": None}]}
    assert json_safe(clean) is clean  # nothing to fix: not rebuilt
    dirty = {"note": "bad \ud800 surrogate", "nul": "a\x00b", "k" * 300: 1, "deep": [{"x": "\udfff"}]}
    cleaned = json_safe(dirty)
    assert cleaned["note"] == "bad \ufffd surrogate"
    assert cleaned["nul"] == "a\ufffdb"
    assert cleaned["deep"] == [{"x": "\ufffd"}]
    assert "k" * 200 in cleaned and "k" * 300 not in cleaned


# ---------------------------------------------------------------- compiled mapping = reference


def _reference_extract(spec: FieldSpec, payload: dict[str, Any], parent: dict[str, Any] | None) -> Any:
    """The field extraction as first written (one `read_path` per path, `convert` per value):
    the compiled readers and fast converters must agree with it on every input."""
    raw: Any = MISSING
    for path in spec.paths:
        candidate = read_path(payload, path, parent)
        if candidate is not MISSING and candidate is not None:
            raw = candidate
            break
    if raw is MISSING:
        if spec.required:
            raise RecordError(f"missing required field {spec.name} ({' | '.join(spec.paths)})")
        if spec.type == "sum-money":
            return spec.default if spec.default is not None else 0
        if spec.type == "str-list":
            return list(spec.default) if spec.default is not None else []
        return spec.convert(spec.default) if spec.default is not None else None
    return spec.convert(raw)


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        value = fn(*args)
    except RecordError as exc:
        return ("error", str(exc))
    return (type(value).__name__, repr(value))


def _place(path: str, value: Any) -> dict[str, Any]:
    """A payload holding `value` at dotted `path` (`name[]` becomes a one-element list)."""
    node: Any = value
    for part in reversed(path.split(".")):
        node = {part[:-2]: [node]} if part.endswith("[]") else {part: node}
    return dict(node)


_SPECS = [
    (f"{source}:{spec.name}", spec)
    for source, mapping in load_mappings(Settings()).streams.items()
    for spec in (*mapping.fields, *(f for child in mapping.children for f in child.fields))
]

_EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 7, 1769904000, 1769904000123, 7289654399, 7289654400, 7289654399999,
    7289654400000, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, Decimal("5"), Decimal("1.5"), Decimal("NaN"),
    Decimal("-0"), "usd", "USD", "Usd", " eur ", "jpy", "usdx", "", " ", "2026-02-01", "2026-02-01T10:00:00Z",
    "2026-13-45", "12", " 7 ", "-3", "yes", "no", "TRUE", "a\x00b", "bad \udcff", "x" * 255, "x" * 256,
    "é" * 255, "é" * 256, "x" * 10_000, "x" * 10_001, [], [1, 2], [None, 3], ["a", "b"], {}, {"data": [1]},
]


def _check(spec: FieldSpec, value: Any, which: int) -> None:
    path = spec.paths[min(which, len(spec.paths) - 1)]
    payload: dict[str, Any]
    if path.startswith("@parent."):
        payload, parent = {}, _place(path[len("@parent.") :], value)
    else:
        payload, parent = _place(path, value), {}
    assert _outcome(spec.extract, payload, parent) == _outcome(_reference_extract, spec, payload, parent), (
        spec.name,
        value,
    )


def test_compiled_fields_agree_with_the_reference_on_edge_values() -> None:
    for _, spec in _SPECS:
        assert _outcome(spec.extract, {}, {}) == _outcome(_reference_extract, spec, {}, {})
        for value in _EDGES:
            for which in range(len(spec.paths)):
                _check(spec, value, which)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(_SPECS),
    st.one_of(
        st.integers(min_value=-(2**64), max_value=2**64),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.text(max_size=300),
        st.from_regex(r"[ ]?[A-Za-z]{3}[ ]?", fullmatch=True),
    ),
    st.integers(min_value=0, max_value=3),
)
def test_compiled_fields_agree_with_the_reference(named: tuple[str, FieldSpec], value: Any, which: int) -> None:
    _check(named[1], value, which)
