"""Approval before push (`[push] approval = "required"`): batches, approvers, staleness, rejection, audit.

The ledger comes from the rules' builders and the platform is an in-memory destination, so every
step (build, approve, change, push) is driven exactly; `test_approval_cli.py` runs the same through
the CLI against the sandbox, and `tests/reliability` kills a push of an approved batch.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.ledger.compute import compute
from connector.push import approval
from connector.push.batches import batch_views
from connector.push.destination import Held
from connector.push.outbox import push
from connector.report.build import build_report
from connector.report.jsonfmt import report_dict
from connector.report.render import render_report
from connector.rules.program import Program
from connector.store.db import session_factory, transaction
from connector.store.models import Invoice, LedgerEntry, Partner, PayoutAudit, PayoutBatch, Run
from connector.store.writes import upsert_rows
from tests.rules.builders import World, context, program

AS_OF = "2026-04-01"


class Platform:
    """Records what is sent; answers with a key per body (no idempotency, like PartnerStack)."""

    name = "test platform"
    concurrency = 1

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def bodies(self, session: Session, entries: Sequence[LedgerEntry], program: Program) -> list[dict[str, Any] | Held]:
        return [{"entry": e.entry_key, "amount": e.payout_amount_minor} for e in entries]

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(body)
        return {"key": f"rwd_{len(self.sent)}"}

    def platform_key(self, answer: dict[str, Any]) -> str:
        return str(answer["key"])

    def find_mirrored(self, session: Session, program: str, *, store_wide: bool = False) -> dict[str, str]:
        return {}

    def find_pushed(self, bodies: Mapping[str, dict[str, Any]], since: dt.datetime) -> dict[str, str]:
        return {}

    def entries(self) -> list[tuple[str, int]]:
        return sorted((b["entry"].split("|", 3)[3], b["amount"]) for b in self.sent)


def _settings(over: int | None = None) -> Settings:
    return Settings(push={"approval": "required", "second_approval_over": over})


def _world() -> World:
    w = World()
    w.partner("part_ada")
    w.partner("part_bob", ref="bob")
    w.product("prod_sw", "software")
    w.price("price_sw", "prod_sw", 100000)
    for n, partner in ((1, "ada"), (2, "bob")):
        w.customer(f"cus_{n}")
        w.lead(f"lead_{n}", partner, "2026-01-01", external_key=f"k{n}", email=f"x@c{n}.io")
        w.referral(f"cust_{n}", f"part_{partner}", "2026-01-02", customer_key=f"k{n}", provider_key=f"cus_{n}")
    # 20 % each: ada 20000 + 10000, bob 4000
    w.invoice("in_1", "cus_1", "2026-02-01", paid_at="2026-02-02", lines=[("price_sw", 100000)])
    w.invoice("in_2", "cus_1", "2026-03-01", paid_at="2026-03-02", lines=[("price_sw", 50000)])
    w.invoice("in_3", "cus_2", "2026-03-01", paid_at="2026-03-03", lines=[("price_sw", 20000)])
    return w


def _run(engine: Engine, platform: Platform, settings: Settings, run_id: str) -> None:
    """One run's compute and push (the run row too, so the report can find it)."""
    ctx = context(engine, AS_OF, run_id=run_id, settings=settings)
    now = dt.datetime.now(dt.UTC)
    with transaction(ctx.sessions) as s:
        s.add(Run(id=run_id, kind="sync", program="consio", as_of=ctx.as_of, started_at=now, status="succeeded",
                  finished_at=now, notes=[]))  # fmt: skip
    compute(ctx, program("consio"), incremental=True)
    push(ctx, program("consio"), destination=platform)


def _batches(engine: Engine, statuses: Sequence[str] | None = None) -> list[Any]:
    with session_factory(engine)() as s:
        return batch_views(s, "consio", statuses)


def _decide(engine: Engine, action: str, batch_id: str, by: str, note: str | None = None) -> str:
    with transaction(session_factory(engine)) as s:
        if action == "approve":
            return approval.approve(s, batch_id, by, note).status
        return approval.reject(s, batch_id, by, note or "").status


def _audit(engine: Engine) -> list[tuple[str, str, str | None]]:
    with session_factory(engine)() as s:
        rows = s.scalars(select(PayoutAudit).order_by(PayoutAudit.id))
        return [(r.batch_id, r.action, r.actor) for r in rows]


def test_nothing_is_pushed_until_the_batch_is_approved(engine: Engine) -> None:
    _world().save(engine)
    platform = Platform()
    _run(engine, platform, _settings(), "r1")
    assert platform.sent == []
    (batch,) = _batches(engine)
    assert (batch.status, batch.entries, batch.totals, batch.payout_totals, batch.payout_out_minor) == (
        "pending", 3, {"usd": 34000}, {"usd": 34000}, 34000)
    assert [(p.partnership_key, p.amounts, p.entries, p.reasons) for p in batch.partners] == [
        ("part_ada", {"usd": 30000}, 2, {"commission": 2}),
        ("part_bob", {"usd": 4000}, 1, {"commission": 1}),
    ]
    assert len(batch.content_hash) == 64 and batch.approvals_needed == 1
    _run(engine, platform, _settings(), "r2")  # a run before approval: nothing sent, no second batch
    assert platform.sent == [] and len(_batches(engine)) == 1

    assert _decide(engine, "approve", batch.id, "alice", "checked against the invoices") == "approved"
    _run(engine, platform, _settings(), "r3")
    assert platform.entries() == [("commission|in_1#0", 20000), ("commission|in_2#0", 10000),
                                  ("commission|in_3#0", 4000)]  # fmt: skip
    assert [b.status for b in _batches(engine)] == ["pushed"]
    assert _audit(engine) == [(batch.id, "built", None), (batch.id, "approved", "alice"), (batch.id, "pushed", None)]
    _run(engine, platform, _settings(), "r4")  # nothing new: no batch, nothing sent again
    assert len(platform.sent) == 3 and len(_batches(engine)) == 1

    report = report_dict(build_report(engine, "r3"))
    assert [(a["batch_id"], a["action"], a["actor"]) for a in report["payout_audit"]] == _audit(engine)
    assert report["payout_audit"][1]["note"] == "checked against the invoices"
    assert report["payout_audit"][2]["detail"] == {"entries": 3, "payout": {"usd": 34000}}


def test_the_audit_is_in_every_report_format(tmp_path: Path, engine: Engine) -> None:
    _world().save(engine)
    platform = Platform()
    _run(engine, platform, _settings(), "r1")
    (batch,) = _batches(engine)
    _decide(engine, "approve", batch.id, "alice", "ok by me")
    _run(engine, platform, _settings(), "r2")
    report = build_report(engine, "r2")
    table = render_report(report, "table", None)
    assert "Payout approvals" in table and "alice" in table
    html_page = Path(render_report(report, "html", tmp_path / "r.html")).read_text()
    assert 'id="payout-audit"' in html_page and "ok by me" in html_page
    render_report(report, "csv", tmp_path / "csv")
    with (tmp_path / "csv" / "payout_audit.csv").open() as fh:
        assert [(r["action"], r["actor"]) for r in csv.DictReader(fh)] == [
            ("built", ""), ("approved", "alice"), ("pushed", "")]
    sheet = load_workbook(Path(render_report(report, "xlsx", tmp_path / "r.xlsx")))["Payout audit"]
    assert [sheet.cell(r, 3).value for r in range(2, 5)] == ["built", "approved", "pushed"]


def test_above_the_threshold_two_different_approvers(engine: Engine) -> None:
    _world().save(engine)
    platform = Platform()
    _run(engine, platform, _settings(over=33999), "r1")  # 34000 out: strictly above
    (batch,) = _batches(engine)
    assert batch.approvals_needed == 2
    assert _decide(engine, "approve", batch.id, "alice") == "pending"
    with pytest.raises(approval.ApprovalError, match="second, different approver"):
        _decide(engine, "approve", batch.id, " Alice ")
    _run(engine, platform, _settings(over=33999), "r2")
    assert platform.sent == []  # one approval of two: nothing goes
    assert _decide(engine, "approve", batch.id, "bob") == "approved"
    _run(engine, platform, _settings(over=33999), "r3")
    assert len(platform.sent) == 3
    assert _batches(engine)[0].approvers == ["alice", "bob"]


def test_at_the_threshold_one_approver_suffices(engine: Engine) -> None:
    _world().save(engine)
    _run(engine, Platform(), _settings(over=34000), "r1")
    assert _batches(engine)[0].approvals_needed == 1


def test_a_correction_makes_the_approved_batch_stale_and_a_fresh_one_is_built(engine: Engine) -> None:
    w = _world()
    w.save(engine)
    platform = Platform()
    _run(engine, platform, _settings(), "r1")
    (first,) = _batches(engine)
    _decide(engine, "approve", first.id, "alice")
    # in_2 turns out to have paid 60000: its commission group gets a correction (#1, +2000)
    changed = dict(next(r for r in w.rows[Invoice] if r["id"] == "in_2"))
    changed.update(amount_paid=60000, amount_due=60000, total=60000, subtotal=60000)
    with transaction(session_factory(engine)) as s:
        upsert_rows(s, Invoice, [changed])
    _run(engine, platform, _settings(), "r2")
    assert platform.sent == []  # the approved batch changed under it: not pushed
    old, fresh = _batches(engine, None)
    assert (old.id, old.status) == (first.id, "stale") and "commission|in_2#0" in (old.note or "")
    assert (fresh.status, fresh.entries, fresh.totals) == ("pending", 4, {"usd": 36000})
    assert fresh.content_hash != first.content_hash
    with pytest.raises(approval.ApprovalError, match="is stale"):
        _decide(engine, "approve", first.id, "bob")
    _decide(engine, "approve", fresh.id, "bob")
    _run(engine, platform, _settings(), "r3")
    assert platform.entries() == [("commission|in_1#0", 20000), ("commission|in_2#0", 10000),
                                  ("commission|in_2#1", 2000), ("commission|in_3#0", 4000)]  # fmt: skip
    assert [a[1] for a in _audit(engine)] == ["built", "approved", "stale", "built", "approved", "pushed"]


def test_a_new_hold_makes_the_batch_stale(engine: Engine) -> None:
    w = _world()
    w.save(engine)
    platform = Platform()
    _run(engine, platform, _settings(), "r1")
    (first,) = _batches(engine)
    _decide(engine, "approve", first.id, "alice")
    bob = dict(next(r for r in w.rows[Partner] if r["key"] == "part_bob"), tax_form=None)
    with transaction(session_factory(engine)) as s:
        upsert_rows(s, Partner, [bob])
    _run(engine, platform, _settings(), "r2")
    assert platform.sent == []
    old, fresh = _batches(engine, None)
    assert (old.status, fresh.status, [p.partnership_key for p in fresh.partners]) == (
        "stale", "pending", ["part_ada"])  # bob's entry is held, not in the fresh batch
    _decide(engine, "approve", fresh.id, "alice")
    _run(engine, platform, _settings(), "r3")
    assert platform.entries() == [("commission|in_1#0", 20000), ("commission|in_2#0", 10000)]


def test_a_rejected_batch_keeps_its_entries_unpushed_with_the_note(engine: Engine) -> None:
    w = _world()
    w.save(engine)
    platform = Platform()
    _run(engine, platform, _settings(), "r1")
    (batch,) = _batches(engine)
    with pytest.raises(approval.ApprovalError, match="needs --by NAME and --note"):
        _decide(engine, "reject", batch.id, "carol", "  ")
    assert _decide(engine, "reject", batch.id, "carol", "in_2 is under dispute with the customer") == "rejected"
    with pytest.raises(approval.ApprovalError, match="is rejected"):
        _decide(engine, "approve", batch.id, "alice")
    _run(engine, platform, _settings(), "r2")
    assert platform.sent == [] and [b.status for b in _batches(engine, None)] == ["rejected"]
    assert _batches(engine, None)[0].note == "in_2 is under dispute with the customer"
    # a new invoice is new money: it gets a batch of its own, the rejected entries stay out of it
    more = World()
    more.invoice("in_4", "cus_2", "2026-03-10", paid_at="2026-03-11", lines=[(None, 10000)])
    more.save(engine)
    _run(engine, platform, _settings(), "r3")
    rejected, fresh = _batches(engine, None)
    assert (fresh.status, fresh.entries, fresh.totals) == ("pending", 1, {"usd": 2000})
    assert [(a[1], a[2]) for a in _audit(engine)] == [("built", None), ("rejected", "carol"), ("built", None)]
    with pytest.raises(approval.BatchNotFound):
        _decide(engine, "approve", "b-nope", "alice")


def test_approval_off_pushes_as_before(engine: Engine) -> None:
    _world().save(engine)
    platform = Platform()
    _run(engine, platform, Settings(), "r1")
    assert len(platform.sent) == 3 and _batches(engine, None) == [] and _audit(engine) == []
    assert "payout_audit" not in report_dict(build_report(engine, "r1"))


def test_the_audit_table_refuses_update_and_delete(engine: Engine) -> None:
    _world().save(engine)
    _run(engine, Platform(), _settings(), "r1")
    for statement in ("UPDATE payout_audit SET actor = 'mallory'", "DELETE FROM payout_audit"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert [a[1] for a in _audit(engine)] == ["built"]
    with session_factory(engine)() as s:
        assert s.scalars(select(PayoutBatch.status)).all() == ["pending"]
