"""Checks a computed store against a scenario's `expect` block (shared by fast and e2e tests)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select

from connector.store.db import session_factory
from connector.store.models import Finding, MarketingCost
from tests.rules.builders import decisions, entries, t

PAYOUT_FIELDS = ("payout_amount_minor", "payout_currency", "fx_rate", "fx_date")


def _cost_ids(engine: Engine) -> dict[str, str]:
    with session_factory(engine)() as s:
        return {f"COST:{c.customer_id}:{c.date.date().isoformat()}": c.id for c in s.scalars(select(MarketingCost))}


def check_submissions(engine: Engine, expect: dict[str, Any]) -> None:
    got = decisions(engine, expect["program"])
    want = {s["submission_key"]: s for s in expect["submissions"]}
    assert set(got) == set(want), f"submissions differ: {sorted(got)} vs {sorted(want)}"
    for key, s in want.items():
        d = got[key]
        assert (d.decision, d.reason, d.partnership_key) == (s["decision"], s["reason"], s["partner_key"]), key


def check_entries(engine: Engine, expect: dict[str, Any]) -> None:
    """Every entry expected, none more; `pushed` in an expectation means `payable` before the push."""
    costs = _cost_ids(engine)

    def expected_row(e: dict[str, Any]) -> tuple[Any, ...]:
        status = "payable" if e["status"] == "pushed" else e["status"]
        sources = tuple(costs.get(s, s) for s in e["sources"])
        return (e["partner_key"], e["customer_key"], e["kind"], e["amount_minor"], e["currency"], status, sources)

    got = entries(engine, expect["program"])
    actual = sorted(
        (e.partnership_key, e.customer_key, e.kind, e.amount_minor, e.currency, e.status, tuple(e.sources)) for e in got
    )
    assert actual == sorted(expected_row(e) for e in expect["entries"])
    by_source = {(e.partnership_key, e.kind, tuple(e.sources)): e for e in got}
    for e in expect["entries"]:
        entry = by_source[(e["partner_key"], e["kind"], tuple(costs.get(s, s) for s in e["sources"]))]
        if "reason" in e:
            assert entry.reason == e["reason"], entry.entry_key
        if "payable_at" in e:
            assert entry.payable_at == t(e["payable_at"]), entry.entry_key
        for name in PAYOUT_FIELDS:  # what the entry pays in the reward currency, where the scenario says
            if name in e:
                got_value = entry.fx_date.isoformat() if name == "fx_date" and entry.fx_date else getattr(entry, name)
                assert got_value == e[name], (entry.entry_key, name)


def check_findings(engine: Engine, expect: dict[str, Any]) -> None:
    with session_factory(engine)() as s:
        found = {
            (f.subject_key, f.code) for f in s.scalars(select(Finding).where(Finding.program == expect["program"]))
        }
    assert {(f["subject_key"], f["code"]) for f in expect.get("findings", [])} <= found


def check_totals(engine: Engine, expect: dict[str, Any]) -> None:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in entries(engine, expect["program"]):
        totals[e.partnership_key][e.currency] += e.amount_minor
    assert {p: dict(c) for p, c in totals.items()} == expect["totals_by_partner"]
    for partner, gate in expect.get("held", {}).items():
        mine = [e for e in entries(engine, expect["program"]) if e.partnership_key == partner]
        assert mine and all(e.status == "held" and e.reason == gate for e in mine)


def check_all(engine: Engine, expect: dict[str, Any]) -> None:
    check_submissions(engine, expect)
    if "entries" in expect:
        check_entries(engine, expect)
    if "totals_by_partner" in expect:
        check_totals(engine, expect)
    check_findings(engine, expect)
