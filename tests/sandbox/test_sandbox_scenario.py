"""Scenario loading is tolerant; malformed records are served as given; costs CSV; Decimal amounts."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sandbox_testkit import CONSIO, ps_client, stripe_client

from sandbox.costs import write_costs_csv
from sandbox.scenario import load_scenario
from sandbox.server import SandboxServer

MALFORMED: dict[str, Any] = {
    "now": "2026-06-30",
    "partnerstack": {
        "partnerships": [{"partner_key": "no-key", "created_at": "2026-01-01"}, {"key": 7, "created_at": "soon"},
                         {"key": "part_dup", "created_at": 1}, {"key": "part_dup", "created_at": 2},
                         "not an object", None],
    },
    "stripe": {
        "invoices": [{"customer": "cus_x", "amount_due": None, "created": "2026-01-01"},
                     {"id": "in_str", "amount_due": "12", "amount_paid": 1, "created": "garbage", "lines": "nope"},
                     {"id": "in_dec", "amount_due": Decimal("10.50"), "amount_paid": 0, "created": 5,
                      "description": "caf\u00e9 \udcff"},
                     {"id": ["unhashable"], "created": None}, 42],
        "refunds": [{"id": "re_x", "payment_intent": None, "amount": None}],
    },
}


def test_empty_and_partial_scenarios_load() -> None:
    for doc in ({}, {"stripe": {}}, {"partnerstack": None, "stripe": {"invoices": None}}, {"finance": []}):
        scenario = load_scenario(doc)
        with SandboxServer(scenario) as srv, stripe_client(srv) as http:
            assert http.get("/invoices").json()["data"] == []


def test_consio_example_loads(tmp_path: Path) -> None:
    if not CONSIO.exists():
        return
    scenario = load_scenario(CONSIO)
    invoice = scenario.stripe["invoices"][0]
    assert invoice["amount_remaining"] == 0 and invoice["lines"]["object"] == "list"
    assert scenario.partnerstack["customers"][0]["updated_at"] == scenario.partnerstack["customers"][0]["created_at"]
    rows = write_costs_csv(load_scenario(json.loads(CONSIO.read_text())), tmp_path / "costs.csv")
    assert rows == 0


def test_malformed_records_are_served_as_given() -> None:
    with SandboxServer(MALFORMED) as srv, stripe_client(srv) as st, ps_client(srv) as ps:
        invoices = st.get("/invoices", params={"limit": 100}).json()["data"]
        assert len(invoices) == 5
        by_id = {json.dumps(i.get("id")) if isinstance(i, dict) else repr(i): i for i in invoices}
        assert by_id['"in_str"']["amount_due"] == "12" and by_id['"in_str"']["lines"] == "nope"
        assert by_id['"in_dec"']["amount_remaining"] is None  # not computed from a non-integer amount
        raw = st.get("/invoices/in_dec").text
        assert '"amount_due":10.50' in raw  # a Decimal is written as a JSON number, unchanged
        assert 42 in invoices
        partnerships = ps.get("/partnerships", params={"limit": 250}).json()["data"]["items"]
        assert len(partnerships) == 6
        dup_page = ps.get("/partnerships", params={"limit": 1, "starting_after": "part_dup"})
        assert dup_page.status_code == 200


def test_costs_csv(tmp_path: Path) -> None:
    doc = {"finance": {"marketing_costs": [
        {"customer": "cus_A", "date": "2026-02-01", "amount": 5000, "currency": "usd", "note": "trade show"},
        {"customer": "cus_B", "date": "2026-03-01", "amount": Decimal("12.5"), "currency": "eur"},
    ]}}
    path = tmp_path / "costs.csv"
    assert write_costs_csv(load_scenario(doc), path) == 2
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["customer", "date", "amount", "currency", "note"]
    assert rows[1] == ["cus_A", "2026-02-01", "5000", "usd", "trade show"]
    assert rows[2] == ["cus_B", "2026-03-01", "12.5", "eur", ""]


def test_records_that_do_not_round_trip_through_json_are_kept_as_given() -> None:
    """Packed records are parsed back for filters and merges; anything JSON would change stays unpacked."""
    from sandbox.state import State

    odd = [
        {"id": "cus_float", "created": 3, "balance": 1.5},
        {"id": "cus_tuple", "created": 2, "preferred_locales": ("en", "fr")},
        {"id": "cus_intkey", "created": 1, "metadata": {1: "one"}},
        {"id": "cus_plain", "created": 4, "metadata": {"k": "v"}, "balance": Decimal("2.50")},
    ]
    state = State(load_scenario({"stripe": {"customers": odd}}))
    customers = state.stripe["customers"]
    by_id = {e.ident: e for e in customers.entries()}
    assert by_id["cus_plain"].packed is not None
    assert by_id["cus_plain"].obj["balance"] == Decimal("2.50")
    for ident in ("cus_float", "cus_tuple", "cus_intkey"):
        assert by_id[ident].packed is None, ident
    assert type(customers.get("cus_float")["balance"]) is float
    assert customers.get("cus_tuple")["preferred_locales"] == ("en", "fr")
    assert customers.get("cus_intkey")["metadata"] == {1: "one"}
    assert customers.get("cus_plain") is not customers.get("cus_plain")  # a fresh copy: stored text can't change
