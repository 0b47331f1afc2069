"""Adjustments undone (programs.md "Changes after the fact"): a credit note voided, a dispute that goes
from lost to won, a refund that fails or is cancelled: the offsetting positive entry is appended, and
pushed, after the clawback was pushed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario

CLAW = "part_ada|cust_acme|clawback"


@pytest.mark.parametrize("refund_ends", ["failed", "canceled"])
def test_voided_credit_note_won_dispute_failed_refund(
    tmp_path: Path, database_url: str, engine: Engine, refund_ends: str
) -> None:
    w = Scenario("2026-03-01T00:00:00Z")
    w.partner("ada")
    w.product("prod_app")
    w.price("price_app", "prod_app", 100_000)
    acme = w.referral("ada", "acme", "2026-01-02T00:00:00Z")
    w.invoice("in_1", acme, "2026-02-01T00:00:00Z", [("price_app", 100_000)], paid_at="2026-02-01T00:00:00Z")
    w.credit_note("cn_1", "in_1", 10_000, "2026-02-10T00:00:00Z")
    w.refund("re_1", "in_1", 5_000, "2026-02-11T00:00:00Z")
    w.dispute("dp_1", "in_1", 20_000, "2026-02-12T00:00:00Z", status="lost")
    with SandboxServer(w.doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path)
        c.sync("2026-03-01T00:00:00Z")
        first = [
            (f"{CLAW}|cn_1#0", "clawback", -2_000, "pushed", None),  # 10,000 x 20 %
            (f"{CLAW}|dp_1#0", "clawback", -4_000, "pushed", None),  # 20,000 x 20 %
            (f"{CLAW}|re_1#0", "clawback", -1_000, "pushed", None),  # 5,000 x 20 %
            ("part_ada|cust_acme|commission|in_1#0", "commission", 20_000, "pushed", None),
        ]
        assert c.ledger() == first

        c.apply({"now": "2026-03-15T00:00:00Z", "stripe": {
            "credit_notes": [{"id": "cn_1", "status": "void"}],
            "disputes": [{"id": "dp_1", "status": "won"}],
            "refunds": [{"id": "re_1", "status": refund_ends}],
        }})  # fmt: skip
        c.sync("2026-03-15T00:00:00Z")
        assert c.ledger() == [
            first[0], (f"{CLAW}|cn_1#1", "clawback", 2_000, "pushed", None),
            first[1], (f"{CLAW}|dp_1#1", "clawback", 4_000, "pushed", None),
            first[2], (f"{CLAW}|re_1#1", "clawback", 1_000, "pushed", None),
            first[3],
        ]  # fmt: skip
        assert sorted(amount for _, amount in c.rewards()) == [-4_000, -2_000, -1_000, 1_000, 2_000, 4_000, 20_000]
