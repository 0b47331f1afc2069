"""NetSource after the fact (programs.md "Changes after the fact"): a gate that closes again holds only
entries not yet pushed; a voided overdue invoice ends the past-due hold, an uncollectible one does not;
a refund on an invoice whose basis was capped by min(original, new) claws back on the capped basis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario

ACME = "part_nia|cust_acme|commission"
BETA = "part_nia|cust_beta|commission"


def _paid(w: Scenario, iid: str, cus: str, day: str, price: str = "price_net", amount: int = 100_000) -> None:
    w.invoice(iid, cus, f"2026-{day}T00:00:00Z", [(price, amount)], paid_at=f"2026-{day}T06:00:00Z")


def _stripe(w: Scenario) -> dict[str, Any]:
    return {k: v for k, v in w.doc["stripe"].items() if v}


def _later(w: Scenario) -> Scenario:
    """A change document built with the same catalogue (the invoice builder looks prices up)."""
    out = Scenario(w.doc["now"])
    out._prices = w._prices  # noqa: SLF001 (the same kit)
    return out


def test_past_due_void_uncollectible_and_capped_refund(tmp_path: Path, database_url: str, engine: Engine) -> None:
    w = Scenario("2026-02-10T00:00:00Z")
    w.partner("nia")
    w.product("prod_net", "managed_service")
    w.price("price_net", "prod_net", 100_000)
    w.price("price_big", "prod_net", 150_000)
    acme = w.referral("nia", "acme", "2025-12-20T00:00:00Z")
    beta = w.referral("nia", "beta", "2025-12-21T00:00:00Z")
    for cus in (acme, beta):
        w.subscription(f"sub_{cus}", cus, "2026-01-01T00:00:00Z", [(f"si_{cus}", "price_net", 1)],
                       metadata={"term_months": "3"})  # fmt: skip
        w.invoice(f"in_{cus}_due", cus, "2026-02-01T00:00:00Z", [("price_net", 100_000)],
                  due_date="2026-02-15T00:00:00Z")  # fmt: skip
    _paid(w, "in_a1", acme, "01-02")
    _paid(w, "in_b1", beta, "01-05")
    with SandboxServer(w.doc) as server:
        c = Connector(server, database_url, engine, "netsource", tmp_path)
        c.sync("2026-02-10T00:00:00Z")
        assert c.ledger() == [
            (f"{ACME}|in_a1#0", "commission", 10_000, "pushed", None),
            (f"{BETA}|in_b1#0", "commission", 10_000, "pushed", None),
        ]

        # both customers go past due (15 February): a new paid invoice is held, the pushed ones stay pushed
        more = _later(w)
        _paid(more, "in_a3", acme, "02-18")
        _paid(more, "in_b3", beta, "02-18")
        c.apply({"now": "2026-02-20T00:00:00Z", "stripe": _stripe(more)})
        c.sync("2026-02-20T00:00:00Z")
        assert c.ledger() == [
            (f"{ACME}|in_a1#0", "commission", 10_000, "pushed", None),
            (f"{ACME}|in_a3#0", "commission", 10_000, "held", "customer_past_due"),
            (f"{BETA}|in_b1#0", "commission", 10_000, "pushed", None),
            (f"{BETA}|in_b3#0", "commission", 10_000, "held", "customer_past_due"),
        ]

        # acme's overdue invoice is voided (no longer owed): released; beta's is marked uncollectible
        # (still not paid in full): still held
        c.apply({"now": "2026-02-25T00:00:00Z", "stripe": {"invoices": [
            {"id": f"in_{acme}_due", "status": "void"}, {"id": f"in_{beta}_due", "status": "uncollectible"},
        ]}})  # fmt: skip
        c.sync("2026-02-25T00:00:00Z")
        assert [row[3:] for row in c.ledger()] == [
            ("pushed", None), ("pushed", None), ("pushed", None), ("held", "customer_past_due"),
        ]  # fmt: skip

        # after acme's 3-month term an invoice of 150,000 earns on min(100,000, 150,000); a refund of
        # 30,000 on it claws back 10 % x 30,000 x 100,000 / 150,000 = 2,000 (not 3,000)
        after = _later(w)
        _paid(after, "in_a4", acme, "04-01", "price_big", 150_000)
        after.refund("re_a4", "in_a4", 30_000, "2026-04-10T00:00:00Z")
        c.apply({"now": "2026-04-20T00:00:00Z", "stripe": _stripe(after)})
        c.sync("2026-04-20T00:00:00Z")
        assert c.ledger() == [
            ("part_nia|cust_acme|clawback|re_a4#0", "clawback", -2_000, "pushed", None),
            (f"{ACME}|in_a1#0", "commission", 10_000, "pushed", None),
            (f"{ACME}|in_a3#0", "commission", 10_000, "pushed", None),
            (f"{ACME}|in_a4#0", "commission", 10_000, "pushed", None),
            (f"{BETA}|in_b1#0", "commission", 10_000, "pushed", None),
            (f"{BETA}|in_b3#0", "commission", 10_000, "held", "customer_past_due"),
        ]
        assert [amount for _, amount in c.rewards()] == [-2_000, 10_000, 10_000, 10_000, 10_000]
