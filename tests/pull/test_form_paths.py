"""List selectors in mapping paths (`fields[api_name=tax_form].value`) and redaction in every shape."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import ConfigError, Settings
from connector.mapping import MISSING, PACKAGE_DIR, FieldSpec, load_mappings, read_path
from connector.mapping.paths import compile_path
from connector.mapping.privacy import normalize_secret, redact_payload, without_values

KEY = "test-key"
TAX = "fields[api_name=tax_form].value"


def _field(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"api_name": name, "field_key": f"fk_{name}", "internal_name": name, "name": name, "type": "text",
            "value": value, **extra}


def test_a_selector_reads_the_first_matching_element_and_anything_else_is_missing() -> None:
    payload = {"fields": [_field("city", "Oslo"), _field("tax_form", "W-9"), _field("tax_form", "W-8BEN")],
               "stripe_like": {"object": "list", "data": [{"id": "a", "n": 1}]}}
    assert read_path(payload, TAX) == "W-9"
    assert read_path(payload, "fields[api_name=tax_form]")["field_key"] == "fk_tax_form"
    assert read_path(payload, "stripe_like[id=a].n") == 1
    for absent in (TAX.replace("tax_form", "iban"), "nothing[api_name=x].value", "fields[name=x].value"):
        assert read_path(payload, absent) is MISSING
    for not_a_list in ({"fields": {"tax_form": "W-9"}}, {"fields": None}, {"fields": "W-9"}, {"fields": [1, None]}):
        assert read_path(not_a_list, TAX) is MISSING  # never an error: the fallbacks get their turn


def test_fallbacks_read_the_deprecated_shapes_in_order() -> None:
    spec = FieldSpec("tax_form", (TAX, "field_data.tax_form", "fields.tax_form"), "str")
    assert spec.extract({"fields": [_field("tax_form", "W-9")], "field_data": {"tax_form": "no"}}, None) == "W-9"
    assert spec.extract({"fields": [_field("tax_form", None)], "field_data": {"tax_form": "W-8"}}, None) == "W-8"
    assert spec.extract({"fields": {"tax_form": "old"}}, None) == "old"
    assert spec.extract({"fields": []}, None) is None


_VALUES = st.one_of(st.none(), st.text(max_size=4), st.integers(), st.booleans())
_ELEMENTS = st.one_of(_VALUES, st.fixed_dictionaries({"api_name": st.sampled_from(["a", "b", 1]), "value": _VALUES}))
_PAYLOADS = st.fixed_dictionaries({}, optional={"fields": st.one_of(_VALUES, st.lists(_ELEMENTS, max_size=4),
                                                                    st.dictionaries(st.just("a"), _VALUES))})


@settings(max_examples=300, deadline=None)
@given(payload=_PAYLOADS)
def test_the_compiled_reader_agrees_with_read_path(payload: dict[str, Any]) -> None:
    for path in ("fields[api_name=a].value", "fields[api_name=a]", "fields.a", "x.fields[api_name=b].value"):
        expected = read_path(payload, path)
        assert compile_path(path)(payload, None) == expected
        compiled = FieldSpec("f", (path,), "json").extract(payload, None)
        assert compiled == (None if expected is MISSING else expected)


def _mappings_with(tmp_path: Path, old: str, new: str) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(PACKAGE_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (target / "partnerstack.toml").read_text()
    assert old in text
    (target / "partnerstack.toml").write_text(text.replace(old, new, 1))
    return target


@pytest.mark.parametrize("bad", ["fields[api_name=tax_form.value", "fields[api_name].value", "fields[=x].value",
                                 "fields[api_name=].value", "[api_name=x].value", "fields..value"])
def test_a_malformed_path_is_a_config_error_naming_file_and_key(tmp_path: Path, bad: str) -> None:
    d = _mappings_with(tmp_path, f'"{TAX}"', f'"{bad}"')
    with pytest.raises(ConfigError, match=r"partnerstack\.toml: streams\.partnerships\.fields\.tax_form\.path: "):
        load_mappings(Settings.model_validate({"mappings": {"dir": str(d)}}))


def test_a_malformed_sensitive_path_is_a_config_error_too(tmp_path: Path) -> None:
    d = _mappings_with(tmp_path, '"meta.iban"', '"meta[iban]"')
    where = r"partnerstack\.toml: streams\.partnerships\.sensitive\.iban: 'meta\[iban\]'"
    with pytest.raises(ConfigError, match=where):
        load_mappings(Settings.model_validate({"mappings": {"dir": str(d)}}))


def test_redaction_removes_the_selected_field_objects_and_leaves_the_original_alone() -> None:
    payload: dict[str, Any] = {"fields": [_field("tax_id", "1"), _field("city", "x"), _field("tax_id", "2")],
                               "field_data": {"tax_id": "1", "city": "x"}}
    out = redact_payload(payload, ["fields[api_name=tax_id].value", "field_data.tax_id", "meta.tax_id"])
    assert out == {"fields": [_field("city", "x")], "field_data": {"city": "x"}}
    assert len(payload["fields"]) == 3 and payload["field_data"]["tax_id"] == "1"
    untouched = {"fields": {"tax_id": "1"}}
    assert redact_payload(untouched, ["fields[api_name=tax_id].value"]) is untouched


def test_values_found_are_removed_wherever_else_they_sit() -> None:
    payload = {"meta": {"old": "123 45 6789", "n": 123456789, "ok": "12345"}, "list": ["123-45-6789", "keep"],
               "flag": True}
    assert without_values(payload, {"123456789"}) == {"meta": {"ok": "12345"}, "list": ["keep"], "flag": True}
    assert without_values(payload, set()) is payload


@settings(max_examples=300, deadline=None)
@given(text=st.text(min_size=4, max_size=30))
def test_any_spelling_of_a_secret_is_found_however_it_is_written(text: str) -> None:
    """The pre-check on the payload's text normalises exactly as `normalize_secret` (non-ASCII included)."""
    secret = normalize_secret(text)
    if len(secret) < 4 or secret == "KEEP":
        return
    assert without_values({"x": {"deep": [text]}, "y": "keep"}, {secret}) == {"x": {"deep": []}, "y": "keep"}


def test_an_airbyte_shaped_partnership_maps_and_keeps_no_secret() -> None:
    """Airbyte's source-partnerstack types `fields` as an array and `field_data` as an object."""
    m = load_mappings(Settings())["partnerstack.partnerships"]
    record = {
        "key": "part_1", "created_at": 1767225600000, "updated_at": 1767225600000, "group": {"slug": "master"},
        "fields": [_field("tax_form", "W-8BEN-E"), _field("iban", "DE44 5001 0517 5407 3249 31"),
                   _field("country", "DE")],
        "field_data": {"tax_form": "W-8BEN-E", "iban": "DE44 5001 0517 5407 3249 31", "country": "DE"},
        "meta": {"iban": "DE44500105175407324931"},
    }
    row = m.apply(record, KEY).row
    assert (row["tax_form"], row["country"], row["bank_kind"], row["bank_last4"]) == ("W-8BEN-E", "DE", "iban", "4931")
    assert row["raw"]["fields"] == [_field("tax_form", "W-8BEN-E"), _field("country", "DE")]
    assert row["raw"]["field_data"] == {"tax_form": "W-8BEN-E", "country": "DE"} and row["raw"]["meta"] == {}
    assert "5407" not in repr(m.redacted({**record, "created_at": "bad"}))  # a quarantined copy too
