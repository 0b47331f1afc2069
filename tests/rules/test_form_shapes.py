"""Form answers in every shape PartnerStack sends them give the same decisions and amounts.

PartnerStack documents `fields` as a list of field objects (shared/spec/partnerstack.md); older
accounts also send the deprecated flat `field_data`. The tax form gate (W-8BEN-E, bank details
with an IBAN) and the consent rule must decide exactly as they do on the scenario's own shape.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from connector.store import models
from tests.rules.builders import REPO, load_scenario
from tests.rules.expectations import check_all
from tests.rules.test_scenarios import pull_and_compute

FORM_SECTIONS = ("partnerships", "leads", "deals", "customers")


def as_field_objects(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """PartnerStack's list of field objects, in another order and with keys unlike the api_names."""
    return [
        {"api_name": name, "field_key": f"fk_{i:04d}", "internal_name": f"custom_{i}", "name": name.title(),
         "type": "checkbox" if isinstance(value, bool) else "text", "value": value, "options": []}
        for i, (name, value) in enumerate(reversed(answers.items()))
    ]


def reshaped(doc: dict[str, Any], shape: str) -> dict[str, Any]:
    """`doc` with every record's form answers written as `list` or as `field_data` only."""
    out = copy.deepcopy(doc)
    for section in FORM_SECTIONS:
        for record in out["partnerstack"].get(section, []):
            answers = record.pop("fields", None)
            if isinstance(answers, dict):
                record["fields" if shape == "list" else "field_data"] = (
                    as_field_objects(answers) if shape == "list" else answers
                )
    return out


@pytest.mark.parametrize("name", ["consio", "connectus"])
@pytest.mark.parametrize(("shape", "legacy"), [("list", False), ("field_data", False), ("object", True)])
def test_decisions_and_amounts_do_not_depend_on_the_shape_of_form_answers(
    database_url: str, engine: Engine, tmp_path: Path, name: str, shape: str, legacy: bool
) -> None:
    doc = load_scenario(REPO / "tests/scenarios" / f"{name}.json")
    pull_and_compute(reshaped(doc, shape), database_url, engine, tmp_path, legacy_field_data=legacy)
    check_all(engine, doc["expect"])  # the scenario's own decisions, entries and amounts, exactly
    with engine.connect() as conn:
        partners = {r.key: (r.tax_form, r.bank_kind, r.bank_last4, r.tax_id_present)
                    for r in conn.execute(select(models.Partner))}
        consent = {r.key: r.consent for r in conn.execute(select(models.Lead))}
    if name == "consio":
        assert partners["part_bob"] == ("W-8BEN-E", "iban", "6819", True)
        assert partners["part_ada"] == ("W-9", "account", "6789", True)
        assert consent["lead_acme_ada"] is True
    else:
        assert partners["part_pia"] == ("W-8BEN-E", "iban", "6819", True)
        assert consent["lead_uno_pia"] is False and consent["lead_sun_pia"] is True
