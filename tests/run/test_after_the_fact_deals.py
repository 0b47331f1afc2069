"""Tech consultant after the fact (programs.md "Changes after the fact"): a deal whose amount, close date
or stage changes after booking is re-derived (its commission, its bonus, the performance-tier ordinals
of the partner's other deals); the differences are appended and pushed, negative ones as negative
rewards. A deal counts toward ordinals once won inside its window, paid or not; a deal closed
before its `created_at` is inside the window."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario


def _key(deal: str, kind: str = "commission") -> str:
    return f"part_vic|{deal}|{kind}|{deal}"


def _world() -> Scenario:
    w = Scenario("2026-03-10T00:00:00Z")
    w.partner("vic", "consultant", business_type="individual")
    for deal, amount, close in (("d1", 4_000_000, "02-01"), ("d2", 6_000_000, "02-15"), ("d3", 2_000_000, "03-01")):
        cus = w.stripe_customer(f"cus_{deal}")
        w.deal(f"deal_{deal}", "vic", "2026-01-05T00:00:00Z", amount, f"2026-{close}T00:00:00Z", cus)
        w.invoice(f"in_{deal}", cus, "2026-03-01T00:00:00Z", [(None, 1_000)], paid_at="2026-03-05T00:00:00Z")
    return w


def test_deal_edits_re_derive_commission_bonus_and_ordinals(tmp_path: Path, database_url: str, engine: Engine) -> None:
    with SandboxServer(_world().doc) as server:
        c = Connector(server, database_url, engine, "tech-consultant", tmp_path)
        c.sync("2026-03-10T00:00:00Z")
        # by close date: d1 #1 3 %, d2 #2 5 %, d3 #3 silver 3 % + 1 point; all paid: pushed
        assert c.ledger() == [
            (f"{_key('deal_d1')}#0", "commission", 120_000, "pushed", None),
            (f"{_key('deal_d2')}#0", "commission", 300_000, "pushed", None),
            (f"{_key('deal_d3')}#0", "commission", 80_000, "pushed", None),
        ]

        # d2's amount goes up to $120,000 (its bonus appears), d1's close date moves after d3's:
        # d2 #1, d3 #2 (bronze: down 20,000), d1 #3 (silver: up 40,000)
        c.apply({"now": "2026-03-20T00:00:00Z", "partnerstack": {"deals": [
            {"key": "deal_d2", "amount": 12_000_000},
            {"key": "deal_d1", "close_date": "2026-03-05T00:00:00Z"},
        ]}})  # fmt: skip
        c.sync("2026-03-20T00:00:00Z")
        assert c.ledger() == [
            (f"{_key('deal_d1')}#0", "commission", 120_000, "pushed", None),
            (f"{_key('deal_d1')}#1", "commission", 40_000, "pushed", None),  # 4,000,000 x 4 % = 160,000
            (f"{_key('deal_d2', 'bonus')}#0", "bonus", 100_000, "pushed", None),
            (f"{_key('deal_d2')}#0", "commission", 300_000, "pushed", None),
            (f"{_key('deal_d2')}#1", "commission", 300_000, "pushed", None),  # 12,000,000 x 5 % = 600,000
            (f"{_key('deal_d3')}#0", "commission", 80_000, "pushed", None),
            (f"{_key('deal_d3')}#1", "clawback", -20_000, "pushed", None),  # 2,000,000 x 3 % = 60,000
        ]
        assert c.rewards() == [
            (f"{_key('deal_d1')}#0", 120_000), (f"{_key('deal_d1')}#1", 40_000),
            (f"{_key('deal_d2', 'bonus')}#0", 100_000), (f"{_key('deal_d2')}#0", 300_000),
            (f"{_key('deal_d2')}#1", 300_000), (f"{_key('deal_d3')}#0", 80_000), (f"{_key('deal_d3')}#1", -20_000),
        ]  # fmt: skip

        # a back-dated deal closed before it was created (inside the window) and not paid yet still counts
        # toward ordinals; d3 is lost: its commission is taken back. d0 #1, d2 #2, d1 #3 (silver, unchanged)
        c.apply({"now": "2026-04-01T00:00:00Z", "partnerstack": {"deals": [
            {"key": "deal_d0", "partner_key": "vic", "name": "Project deal_d0", "stage": "closed won",
             "amount": 1_000_000, "created_at": "2026-01-02T00:00:00Z", "external_key": "cus_d0",
             "close_date": "2025-12-20T00:00:00Z"},
            {"key": "deal_d3", "stage": "closed lost"},
        ]}})  # fmt: skip
        c.sync("2026-04-01T00:00:00Z")
        assert c.ledger() == [
            (f"{_key('deal_d0')}#0", "commission", 30_000, "scheduled", "awaiting_first_payment"),
            (f"{_key('deal_d1')}#0", "commission", 120_000, "pushed", None),
            (f"{_key('deal_d1')}#1", "commission", 40_000, "pushed", None),
            (f"{_key('deal_d2', 'bonus')}#0", "bonus", 100_000, "pushed", None),
            (f"{_key('deal_d2')}#0", "commission", 300_000, "pushed", None),
            (f"{_key('deal_d2')}#1", "commission", 300_000, "pushed", None),
            (f"{_key('deal_d3')}#0", "commission", 80_000, "pushed", None),
            (f"{_key('deal_d3')}#1", "clawback", -20_000, "pushed", None),
            (f"{_key('deal_d3')}#2", "clawback", -60_000, "pushed", None),
        ]
        assert sum(amount for key, amount in c.rewards() if "deal_d3" in key) == 0
        assert len(c.rewards()) == 8
