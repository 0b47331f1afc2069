"""Consio tiers after the fact (programs.md "Changes after the fact"): a customer's rate and commission
period are those of the partner's group when its first entry is booked (recorded in `customer_terms`);
a partner moved to another group keeps them for customers already booked, and the new group applies
to customers booked after the move. Consio's groups differ in period: elite 24 months, master 36."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.store.models import CustomerTerms
from sandbox.server import SandboxServer

from .overtime import Connector, Scenario


def _paid(iid: str, cus: str, day: str) -> dict[str, object]:
    w = Scenario(day)
    w.price("price_app", "prod_app", 100_000)
    inv = w.invoice(iid, cus, day, [("price_app", 100_000)], paid_at=day)
    return {"invoices": [inv], "invoice_payments": w.doc["stripe"]["invoice_payments"]}


def test_a_group_move_applies_to_customers_booked_after_it(tmp_path: Path, database_url: str, engine: Engine) -> None:
    w = Scenario("2026-02-01T00:00:00Z")
    w.partner("ada", "elite")
    w.group("master")
    w.product("prod_app")
    w.price("price_app", "prod_app", 100_000)
    acme = w.referral("ada", "acme", "2026-01-02T00:00:00Z")
    w.invoice("in_a1", acme, "2026-01-10T00:00:00Z", [("price_app", 100_000)], paid_at="2026-01-10T00:00:00Z")
    with SandboxServer(w.doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path)
        c.sync("2026-02-01T00:00:00Z")
        assert c.ledger() == [("part_ada|cust_acme|commission|in_a1#0", "commission", 20_000, "pushed", None)]

        # ada moves to master; beta is referred and booked after the move
        later = Scenario("2026-03-01T00:00:00Z")
        later.referral("ada", "beta", "2026-02-15T00:00:00Z")
        c.apply({"now": "2026-03-01T00:00:00Z",
                 "partnerstack": {
                     "partnerships": [{"key": "part_ada",
                                       "group": {"key": "grup_master", "name": "Master", "slug": "master"}}],
                     "leads": later.doc["partnerstack"]["leads"], "customers": later.doc["partnerstack"]["customers"]},
                 "stripe": {"customers": later.doc["stripe"]["customers"],
                            **_paid("in_b1", "cus_beta", "2026-03-01T00:00:00Z")}})  # fmt: skip
        c.sync("2026-03-01T00:00:00Z")
        with Session(engine) as s:
            terms = s.execute(select(CustomerTerms.customer_key, CustomerTerms.group_slug)).all()
        assert sorted(terms) == [("cust_acme", "elite"), ("cust_beta", "master")]

        # two years on: acme's invoice 25 months after its first payment is past elite's 24 months (it
        # earns nothing though ada is master now); beta's 26 months on is inside master's 36
        c.apply({"now": "2028-06-01T00:00:00Z", "stripe": {
            "invoices": _paid("in_a2", acme, "2028-02-10T00:00:00Z")["invoices"]
            + _paid("in_b2", "cus_beta", "2028-05-01T00:00:00Z")["invoices"],
            "invoice_payments": _paid("in_a2", acme, "2028-02-10T00:00:00Z")["invoice_payments"]
            + _paid("in_b2", "cus_beta", "2028-05-01T00:00:00Z")["invoice_payments"],
        }})  # fmt: skip
        c.sync("2028-06-01T00:00:00Z")
        assert c.ledger() == [
            ("part_ada|cust_acme|commission|in_a1#0", "commission", 20_000, "pushed", None),
            ("part_ada|cust_beta|commission|in_b1#0", "commission", 20_000, "pushed", None),
            ("part_ada|cust_beta|commission|in_b2#0", "commission", 20_000, "pushed", None),
        ]
        assert [amount for _, amount in c.rewards()] == [20_000, 20_000, 20_000]
