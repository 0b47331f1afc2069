"""A gate that closes again (programs.md "Changes after the fact"): a tax form withdrawn holds only the
entries not yet pushed; pushed entries are never touched; the form back releases what it held."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import FIELDS, Connector, Scenario

ACME = "part_ada|cust_acme|commission"


def test_a_withdrawn_tax_form_holds_only_what_is_not_pushed(tmp_path: Path, database_url: str, engine: Engine) -> None:
    w = Scenario("2026-02-10T00:00:00Z")
    w.partner("ada")
    w.product("prod_app")
    w.price("price_app", "prod_app", 100_000)
    acme = w.referral("ada", "acme", "2026-01-02T00:00:00Z")
    w.invoice("in_1", acme, "2026-02-01T00:00:00Z", [("price_app", 100_000)], paid_at="2026-02-01T00:00:00Z")
    with SandboxServer(w.doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path)
        c.sync("2026-02-10T00:00:00Z")
        assert c.ledger() == [(f"{ACME}|in_1#0", "commission", 20_000, "pushed", None)]

        later = Scenario("2026-03-05T00:00:00Z")
        later.price("price_app", "prod_app", 100_000)
        later.invoice("in_2", acme, "2026-03-01T00:00:00Z", [("price_app", 100_000)], paid_at="2026-03-01T00:00:00Z")
        withdrawn = {k: v for k, v in FIELDS.items() if k not in ("tax_form", "tax_id")}
        c.apply({"now": "2026-03-05T00:00:00Z",
                 "partnerstack": {"partnerships": [{"key": "part_ada", "fields": withdrawn}]},
                 "stripe": {"invoices": later.doc["stripe"]["invoices"],
                            "invoice_payments": later.doc["stripe"]["invoice_payments"]}})  # fmt: skip
        c.sync("2026-03-05T00:00:00Z")
        assert c.ledger() == [
            (f"{ACME}|in_1#0", "commission", 20_000, "pushed", None),
            (f"{ACME}|in_2#0", "commission", 20_000, "held", "tax_form_missing"),
        ]
        assert c.rewards() == [(f"{ACME}|in_1#0", 20_000)]

        c.apply(
            {"now": "2026-03-10T00:00:00Z", "partnerstack": {"partnerships": [{"key": "part_ada", "fields": FIELDS}]}}
        )
        c.sync("2026-03-10T00:00:00Z")
        assert [row[3] for row in c.ledger()] == ["pushed", "pushed"]
        assert c.rewards() == [(f"{ACME}|in_1#0", 20_000), (f"{ACME}|in_2#0", 20_000)]
