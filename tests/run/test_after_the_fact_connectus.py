"""Connectus after the fact (programs.md "Changes after the fact"): the one-off reward follows the first
subscription until its payable date, then is final; a subscription cancelled before then voids it
(the pair `reversed`, nothing pushed); refunds, credit notes and disputes never touch it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario

SUN = "part_pia|cust_sun|commission|sub_sun"
TIDE = "part_pia|cust_tide|commission|sub_tide"


def _world() -> Scenario:
    w = Scenario("2026-02-01T00:00:00Z")
    w.partner("pia")
    w.product("prod_svc", "managed_service", unit_cost=1000)
    w.price("price_svc", "prod_svc", 10_000)
    sun = w.referral("pia", "sun", "2026-01-02T00:00:00Z")
    tide = w.referral("pia", "tide", "2026-01-03T00:00:00Z")
    w.subscription("sub_sun", sun, "2026-01-15T00:00:00Z", [("si_sun", "price_svc", 2)])
    w.subscription("sub_tide", tide, "2026-01-20T00:00:00Z", [("si_tide", "price_svc", 1)])
    w.invoice("in_sun", sun, "2026-01-15T00:00:00Z", [("price_svc", 20_000)], paid_at="2026-01-16T00:00:00Z")
    return w


def test_connectus_reward_follows_its_contract_until_payable_then_is_final(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with SandboxServer(_world().doc) as server:
        c = Connector(server, database_url, engine, "connectus", tmp_path)
        c.sync("2026-02-01T00:00:00Z")
        # 12 x 10,000 x 2 = 240,000 x 3 % and 120,000 x 3 %, both scheduled until 30 April
        assert c.ledger() == [
            (f"{SUN}#0", "commission", 7200, "scheduled", "payable_after"),
            (f"{TIDE}#0", "commission", 3600, "scheduled", "payable_after"),
        ]

        # before the payable date: sun's quantity goes to 3 (recomputed), tide is cancelled (void);
        # a refund on sun's invoice changes nothing
        c.apply({"now": "2026-03-01T00:00:00Z", "stripe": {
            "subscriptions": [
                {"id": "sub_sun", "items": [{"id": "si_sun", "price": "price_svc", "quantity": 3}]},
                {"id": "sub_tide", "status": "canceled", "canceled_at": "2026-02-20T00:00:00Z"},
            ],
            "refunds": [{"id": "re_sun", "payment_intent": "pi_in_sun", "charge": "ch_in_sun", "amount": 5_000,
                         "currency": "usd", "status": "succeeded", "created": "2026-02-25T00:00:00Z"}],
        }})  # fmt: skip
        c.sync("2026-03-01T00:00:00Z")
        assert c.ledger() == [
            (f"{SUN}#0", "commission", 7200, "scheduled", "payable_after"),
            (f"{SUN}#1", "commission", 3600, "scheduled", "payable_after"),  # 360,000 x 3 % = 10,800
            (f"{TIDE}#0", "commission", 3600, "reversed", "offset"),
            (f"{TIDE}#1", "clawback", -3600, "reversed", "offset"),
        ]
        assert c.rewards() == []

        c.sync("2026-04-30T00:00:00Z")  # payable from 00:00 UTC of the 3rd month's last day: pushed
        assert [row[3] for row in c.ledger()] == ["pushed", "pushed", "reversed", "reversed"]
        assert c.rewards() == [(f"{SUN}#0", 7200), (f"{SUN}#1", 3600)]

        # from the payable date it is final: a quantity edit, a credit note, a lost dispute, even a
        # cancellation after the payable date change nothing
        c.apply({"now": "2026-05-15T00:00:00Z", "stripe": {
            "subscriptions": [{"id": "sub_sun", "items": [{"id": "si_sun", "price": "price_svc", "quantity": 5}],
                               "status": "canceled", "canceled_at": "2026-05-10T00:00:00Z"}],
            "credit_notes": [{"id": "cn_sun", "invoice": "in_sun", "currency": "usd", "status": "issued",
                              "type": "post_payment", "created": "2026-05-01T00:00:00Z", "total": 4_000,
                              "subtotal": 4_000, "total_excluding_tax": 4_000, "amount": 4_000, "refunds": [],
                              "lines": []}],
            "disputes": [{"id": "dp_sun", "payment_intent": "pi_in_sun", "charge": "ch_in_sun", "amount": 20_000,
                          "currency": "usd", "status": "lost", "created": "2026-05-02T00:00:00Z",
                          "reason": "fraudulent"}],
        }})  # fmt: skip
        run = c.sync("2026-05-15T00:00:00Z")
        assert run.entries_appended == 0
        assert [row[:3] for row in c.ledger()] == [
            (f"{SUN}#0", "commission", 7200), (f"{SUN}#1", "commission", 3600),
            (f"{TIDE}#0", "commission", 3600), (f"{TIDE}#1", "clawback", -3600),
        ]  # fmt: skip
        assert c.rewards() == [(f"{SUN}#0", 7200), (f"{SUN}#1", 3600)]
