"""PartnerStack form answers and deals as PartnerStack documents them (shared/spec/partnerstack.md)."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_testkit import ps_client

from sandbox.__main__ import main as sandbox_main
from sandbox.normalize_partnerstack import as_date
from sandbox.server import SandboxServer

LISTED = [{"api_name": "tax_form", "field_key": "fk_1", "internal_name": "tax_form_1", "name": "Tax form",
           "type": "select", "value": "W-9", "options": ["W-9", "W-8BEN"]}]
WORLD: dict[str, Any] = {
    "now": "2026-06-30T00:00:00Z",
    "partnerstack": {
        "partnerships": [
            {"key": "part_obj", "created_at": "2026-01-01T00:00:00Z",
             "fields": {"tax_form": "W-8BEN-E", "team_size": 4}},
            {"key": "part_list", "created_at": "2026-01-02T00:00:00Z", "fields": LISTED},
            {"key": "part_fd", "created_at": "2026-01-03T00:00:00Z", "field_data": {"tax_form": "W-9"}},
        ],
        "leads": [{"key": "lead_1", "created_at": "2026-01-01T00:00:00Z", "fields": {"consent": True}}],
        "deals": [
            {"key": "deal_iso", "name": "Acme", "close_date": "2026-05-31T18:00:00Z", "created_at": "2026-04-01"},
            {"key": "deal_ms", "account_name": "Beta", "close_date": 1780185600000, "created_at": "2026-04-02"},
        ],
    },
}


def _items(srv: SandboxServer, resource: str) -> dict[str, dict[str, Any]]:
    with ps_client(srv) as http:
        return {r["key"]: r for r in http.get(f"/{resource}", params={"limit": 250}).json()["data"]["items"]}


def test_fields_are_served_as_a_list_of_field_objects_and_field_data_not_at_all() -> None:
    with SandboxServer(WORLD) as srv:
        partners, leads = _items(srv, "partnerships"), _items(srv, "leads")
        with ps_client(srv) as http:
            one = http.get("/partnerships/part_obj").json()["data"]
    assert partners["part_obj"]["fields"] == [
        {"api_name": "tax_form", "field_key": "tax_form", "internal_name": "tax_form", "name": "Tax form",
         "options": [], "type": "text", "value": "W-8BEN-E"},
        {"api_name": "team_size", "field_key": "team_size", "internal_name": "team_size", "name": "Team size",
         "options": [], "type": "number", "value": 4},
    ]
    assert one["fields"] == partners["part_obj"]["fields"]
    assert partners["part_list"]["fields"] == LISTED  # a scenario's own list is served as written
    assert all("field_data" not in p for k, p in partners.items() if k != "part_fd")
    assert partners["part_fd"]["field_data"] == {"tax_form": "W-9"} and "fields" not in partners["part_fd"]
    consent = [(f["api_name"], f["type"], f["value"]) for f in leads["lead_1"]["fields"]]
    assert consent == [("consent", "checkbox", True)]


def test_legacy_field_data_is_served_beside_the_list_only_when_asked() -> None:
    with SandboxServer(WORLD, legacy_field_data=True) as srv:
        partners = _items(srv, "partnerships")
        srv.apply({"partnerstack": {"partnerships": [{"key": "part_new", "fields": {"city": "Oslo"}}]}})
        added = _items(srv, "partnerships")["part_new"]
        with ps_client(srv) as http:
            one = http.get("/partnerships/part_list").json()["data"]
    assert partners["part_obj"]["field_data"] == {"tax_form": "W-8BEN-E", "team_size": 4}
    assert partners["part_obj"]["fields"][0]["value"] == "W-8BEN-E"
    assert one["field_data"] == {"tax_form": "W-9"}
    assert added["field_data"] == {"city": "Oslo"} and added["fields"][0]["api_name"] == "city"
    assert partners["part_fd"]["field_data"] == {"tax_form": "W-9"}  # a scenario's own field_data wins


def test_deals_carry_account_name_and_a_yyyy_mm_dd_close_date() -> None:
    with SandboxServer(WORLD) as srv:
        deals = _items(srv, "deals")
    assert (deals["deal_iso"]["account_name"], deals["deal_iso"]["close_date"]) == ("Acme", "2026-05-31")
    assert (deals["deal_ms"]["account_name"], deals["deal_ms"]["close_date"]) == ("Beta", "2026-05-31")
    assert isinstance(deals["deal_iso"]["created_at"], int)


@pytest.mark.parametrize(("given", "served"), [
    ("2026-02-28", "2026-02-28"), ("2026-02-28T23:59:59-05:00", "2026-03-01"), (0, "1970-01-01"),
    ("soon", "soon"), (None, None), (True, True),
])
def test_close_dates_the_sandbox_cannot_read_are_served_as_given(given: Any, served: Any) -> None:
    assert as_date(given) == served


def test_python_m_sandbox_has_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("sandbox.__main__.cli_entry", lambda *args: seen.append(args))
    sandbox_main(["world.json", "--legacy-field-data"])
    assert seen[0][-1] is True


def test_connector_sandbox_has_the_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from connector.run.cli import app

    seen: list[Any] = []
    monkeypatch.setattr("sandbox.server.serve", lambda *args, **kw: seen.append(kw))
    scenario = tmp_path / "world.json"
    scenario.write_text("{}")
    result = CliRunner().invoke(app, ["sandbox", "--scenario", str(scenario), "--legacy-field-data"])
    assert result.exit_code == 0, result.output
    assert seen == [{"legacy_field_data": True}]
