"""Never below zero, in order (programs.md "Changes after the fact"): the floor is applied in event-time
order over the customer's whole history on every run; a late event with an earlier time re-orders it,
and only the differences are appended (and pushed)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario


def test_a_back_dated_refund_reorders_the_floor(tmp_path: Path, database_url: str, engine: Engine) -> None:
    w = Scenario("2026-03-10T00:00:00Z")
    w.partner("ada")
    w.product("prod_app")
    w.price("price_app", "prod_app", 100_000)
    acme = w.referral("ada", "acme", "2026-01-02T00:00:00Z")
    w.invoice("in_1", acme, "2026-02-01T00:00:00Z", [("price_app", 100_000)], paid_at="2026-02-01T00:00:00Z")
    w.invoice("in_2", acme, "2026-03-01T00:00:00Z", [("price_app", 100_000)], paid_at="2026-03-01T00:00:00Z")
    costs = tmp_path / "costs.csv"
    costs.write_text("customer,date,amount,currency,note\ncus_acme,2026-02-10,150000,usd,fair\n", encoding="utf-8")
    with SandboxServer(w.doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path, finance={"marketing_costs_file": str(costs)})
        c.sync("2026-03-10T00:00:00Z")
        # 1 Feb +20,000; 10 Feb the fair's -30,000 capped at -20,000 (the total stays at 0); 1 Mar +20,000
        assert c.named() == [
            ("fair#0", "clawback", -20_000, "pushed"),
            ("in_1#0", "commission", 20_000, "pushed"),
            ("in_2#0", "commission", 20_000, "pushed"),
        ]

        # a refund dated 5 February arrives late: -10,000 before the fair, which is now capped at -10,000
        c.apply({"now": "2026-03-15T00:00:00Z", "stripe": {"refunds": [
            {"id": "re_1", "payment_intent": "pi_in_1", "charge": "ch_in_1", "amount": 50_000, "currency": "usd",
             "status": "succeeded", "created": "2026-02-05T00:00:00Z"},
        ]}})  # fmt: skip
        run = c.sync("2026-03-15T00:00:00Z")
        assert run.entries_appended == 2
        assert c.named() == [
            ("fair#0", "clawback", -20_000, "pushed"),
            ("fair#1", "clawback", 10_000, "pushed"),  # only the difference
            ("in_1#0", "commission", 20_000, "pushed"),
            ("in_2#0", "commission", 20_000, "pushed"),
            ("re_1#0", "clawback", -10_000, "pushed"),
        ]
        assert sum(amount for _, amount in c.rewards()) == 20_000
