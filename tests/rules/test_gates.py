"""Payout gates: tax form by country and entity, bank details, complete application; first failing wins."""

from __future__ import annotations

from typing import Any

import pytest

from connector.rules.gates import application_complete, is_entity, partner_gate, required_tax_form
from connector.store.models import Partner
from tests.rules.builders import program

CONSIO = program("consio")
REQUIRED = CONSIO.gates.required_application_fields


def _partner(**overrides: Any) -> Partner:
    values: dict[str, Any] = dict(
        key="part_x",
        email="x@x.com",
        company_name="X LLC",
        company_website="https://x.com",
        city="Boston",
        country="US",
        business_type="agency",
        team_size="3",
        number_of_clients="10",
        tax_form="W-9",
        tax_id_present=True,
        bank_kind="account",
    )
    values.update(overrides)
    return Partner(**values)


@pytest.mark.parametrize(
    ("overrides", "gate"),
    [
        ({}, None),
        ({"tax_form": None}, "tax_form_missing"),
        ({"tax_form": "W-8BEN"}, "tax_form_missing"),  # a US partner needs a W-9
        ({"tax_id_present": False}, "tax_form_missing"),
        ({"country": "DE", "tax_form": "W-8BEN-E"}, None),  # non-US entity
        ({"country": "DE", "tax_form": "W-8BEN"}, "tax_form_missing"),
        (
            {
                "country": "GB",
                "tax_form": "W-8BEN",
                "company_name": None,
                "company_website": None,
                "business_type": "individual",
            },
            None,
        ),
        (
            {
                "country": "GB",
                "tax_form": "w8ben",
                "company_name": None,
                "company_website": None,
                "business_type": "Individual",
            },
            None,
        ),
        ({"country": None}, "tax_form_missing"),  # cannot tell which form applies
        ({"bank_kind": None}, "bank_details_missing"),
        ({"bank_kind": "account_only"}, "bank_details_missing"),  # an account number without its routing number
        ({"bank_kind": "iban"}, None),
        ({"bank_kind": None, "tax_form": None}, "tax_form_missing"),  # the first failing gate
        ({"team_size": None}, "application_incomplete"),
        ({"number_of_clients": " "}, "application_incomplete"),
        ({"company_website": None}, "application_incomplete"),  # an entity (company name) needs its website
        ({"company_website": None, "company_name": None, "business_type": "individual"}, None),
        ({"email": None}, "application_incomplete"),
    ],
)
def test_partner_gates(overrides: dict[str, Any], gate: str | None) -> None:
    assert partner_gate(CONSIO, _partner(**overrides)) == gate


def test_website_is_required_only_of_entities() -> None:
    entity = _partner(company_website=None, company_name=None, business_type="agency")
    assert is_entity(entity) and not application_complete(entity, REQUIRED)
    person = _partner(company_website=None, company_name=None, business_type="individual")
    assert not is_entity(person) and application_complete(person, REQUIRED)
    assert required_tax_form(person) == "W-9"
    assert (
        required_tax_form(_partner(country="FR", company_name=None, company_website=None, business_type="individual"))
        == "W-8BEN"
    )


def test_programs_without_gates_hold_nothing() -> None:
    assert partner_gate(program("connectus"), _partner(tax_form=None, bank_kind=None)) is None
