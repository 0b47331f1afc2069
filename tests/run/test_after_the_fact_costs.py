"""Finance's cost file is the truth at each run (programs.md "Changes after the fact"): a cost row is
identified by customer, date and note; one whose amount changes, or that disappears, is booked as the
difference on its own group, pushed as such."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sandbox.server import SandboxServer

from .overtime import Connector, Scenario


def _write(path: Path, rows: list[tuple[str, int, str]]) -> None:
    lines = ["customer,date,amount,currency,note"]
    lines += [f"cus_acme,{day},{amount},usd,{note}" for day, amount, note in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_cost_rows_changed_or_gone_are_booked_as_differences(tmp_path: Path, database_url: str, engine: Engine) -> None:
    w = Scenario("2026-03-01T00:00:00Z")
    w.partner("ada")
    w.product("prod_app")
    w.price("price_app", "prod_app", 100_000)
    acme = w.referral("ada", "acme", "2026-01-02T00:00:00Z")
    w.invoice("in_1", acme, "2026-02-01T00:00:00Z", [("price_app", 100_000)], paid_at="2026-02-01T00:00:00Z")
    costs = tmp_path / "costs.csv"
    _write(costs, [("2026-02-05", 10_000, "trade show"), ("2026-02-06", 5_000, "webinar")])
    with SandboxServer(w.doc) as server:
        c = Connector(server, database_url, engine, "consio", tmp_path, finance={"marketing_costs_file": str(costs)})
        c.sync("2026-03-01T00:00:00Z")
        assert c.named() == [
            ("in_1#0", "commission", 20_000, "pushed"),
            ("trade show#0", "clawback", -2_000, "pushed"),  # 10,000 x 20 %
            ("webinar#0", "clawback", -1_000, "pushed"),
        ]

        # finance corrects the trade show to 15,000, drops the webinar, adds ads of 2,500
        _write(costs, [("2026-02-05", 15_000, "trade show"), ("2026-02-07", 2_500, "ads")])
        c.sync("2026-03-10T00:00:00Z")
        assert c.named() == [
            ("ads#0", "clawback", -500, "pushed"),
            ("in_1#0", "commission", 20_000, "pushed"),
            ("trade show#0", "clawback", -2_000, "pushed"),
            ("trade show#1", "clawback", -1_000, "pushed"),  # the difference, on the same group
            ("webinar#0", "clawback", -1_000, "pushed"),
            ("webinar#1", "clawback", 1_000, "pushed"),  # gone from the file: taken back
        ]
        assert sorted(amount for _, amount in c.rewards()) == [-2_000, -1_000, -1_000, -500, 1_000, 20_000]

        c.sync("2026-03-20T00:00:00Z")  # the same file again: nothing moves
        assert len(c.ledger()) == 6
