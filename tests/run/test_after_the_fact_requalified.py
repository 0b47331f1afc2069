"""A decision that changes after booking (programs.md "Changes after the fact"): the entries already
booked for the submission are taken back with `clawback` entries whose reason is
`requalified:<the new rejection code>`, finance gets a finding naming both submissions, and the
newly winning submission earns as usual. Pushed entries are taken back by negative rewards."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario

BOB = "part_bob|cust_acme|commission|in_acme"
ADA = "part_ada|cust_acme|commission|in_acme"
CAL = "part_cal|cust_beta|commission|in_beta"


def _world() -> Scenario:
    w = Scenario("2026-03-01T00:00:00Z")
    for name in ("ada", "bob", "cal"):
        w.partner(name)
    w.product("prod_app")
    w.price("price_app", "prod_app", 100_000)
    acme = w.referral("bob", "acme", "2026-01-08T00:00:00Z")
    beta = w.referral("cal", "beta", "2026-01-09T00:00:00Z")
    for cus in (acme, beta):
        company = cus.removeprefix("cus_")
        w.invoice(f"in_{company}", cus, "2026-02-01T00:00:00Z", [("price_app", 100_000)],
                  paid_at="2026-02-03T00:00:00Z")  # fmt: skip
    return w


def test_a_submission_rejected_after_it_was_pushed_is_taken_back(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with SandboxServer(_world().doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path)
        c.sync("2026-03-01T00:00:00Z")
        assert c.ledger() == [
            (f"{BOB}#0", "commission", 20_000, "pushed", None),
            (f"{CAL}#0", "commission", 20_000, "pushed", None),
        ]

        # an earlier lead by ada for the same company surfaces late: bob's is now a duplicate;
        # beta's PartnerStack customer turns out to be a test record
        c.apply({"now": "2026-03-10T00:00:00Z", "partnerstack": {
            "leads": [{"key": "lead_acme_ada", "partner_key": "ada", "created_at": "2026-01-05T00:00:00Z",
                       "external_key": "acme-key", "status": "closed won",
                       "fields": {"company_name": "Acme Corp", "email": "cto@acme.io", "consent": True}}],
            "customers": [{"key": "cust_beta", "test": True}],
        }})  # fmt: skip
        run = c.sync("2026-03-10T00:00:00Z")
        assert c.ledger() == [
            (f"{ADA}#0", "commission", 20_000, "pushed", None),
            (f"{BOB}#0", "commission", 20_000, "pushed", None),
            (f"{BOB}#1", "clawback", -20_000, "pushed", "requalified:duplicate_lead"),
            (f"{CAL}#0", "commission", 20_000, "pushed", None),
            (f"{CAL}#1", "clawback", -20_000, "pushed", "requalified:test_record"),
        ]
        assert c.rewards() == [
            (f"{ADA}#0", 20_000), (f"{BOB}#0", 20_000), (f"{BOB}#1", -20_000), (f"{CAL}#0", 20_000),
            (f"{CAL}#1", -20_000),
        ]  # fmt: skip
        notes = c.notes()
        assert notes[f"{BOB}#1"] == (
            f"take-back of consio|{BOB}#0: requalified:duplicate_lead: lead_acme_bob is now rejected (duplicate_lead); "
            "lead_acme_ada earns instead: taken back; booked 20,000, now 0, difference −20,000"
        )
        assert [f for f in c.findings(run.run_id) if f[1] == "requalified"] == [
            ("lead_acme_bob", "requalified", "lead_acme_bob was booked and is now rejected (duplicate_lead); "
             "lead_acme_ada earns instead: its entries are taken back"),
            ("lead_beta_cal", "requalified", "lead_beta_cal was booked and is now rejected (test_record): "
             "its entries are taken back"),
        ]  # fmt: skip

        later = c.sync("2026-03-20T00:00:00Z")  # news of the run that took them back, not a standing state
        assert later.entries_appended == 0
        assert [f for f in c.findings(later.run_id) if f[1] == "requalified"] == []


def test_a_submission_rejected_before_its_entries_were_pushed_reverses_them(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    """Not yet pushed (held: bob's bank details are missing): the entry and its take-back are `reversed`."""
    world = _world()
    world.doc["partnerstack"]["partnerships"][1]["fields"].pop("bank_account_number")
    with SandboxServer(world.doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path)
        c.sync("2026-03-01T00:00:00Z")
        assert c.ledger()[0] == (f"{BOB}#0", "commission", 20_000, "held", "bank_details_missing")
        c.apply({"now": "2026-03-10T00:00:00Z", "partnerstack": {
            "leads": [{"key": "lead_acme_ada", "partner_key": "ada", "created_at": "2026-01-05T00:00:00Z",
                       "external_key": "acme-key", "status": "closed won",
                       "fields": {"company_name": "Acme Corp", "email": "cto@acme.io", "consent": True}}],
        }})  # fmt: skip
        c.sync("2026-03-10T00:00:00Z")
        assert c.ledger()[:3] == [
            (f"{ADA}#0", "commission", 20_000, "pushed", None),
            (f"{BOB}#0", "commission", 20_000, "reversed", "offset"),
            (f"{BOB}#1", "clawback", -20_000, "reversed", "offset"),
        ]
        assert [key for key, _ in c.rewards()] == [f"{ADA}#0", f"{CAL}#0"]
