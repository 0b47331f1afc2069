"""The status history: every booking and status move of an entry is appended with its run and time,
the current status is the latest row, and a past run's report shows the statuses as they were then."""

from __future__ import annotations

import datetime as dt
import io

import httpx
from rich.console import Console
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from connector.ledger.history import moves_of
from connector.report import summary_table
from connector.report.build import build_report
from connector.run.runner import run_once
from connector.store.db import make_engine, upgrade
from connector.store.models import EntryStatusMove, LedgerEntry
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings

LATER = AS_OF + dt.timedelta(days=5)


def _set_reward_status(server: SandboxServer, changes: dict[str, str]) -> None:
    rewards = [{"key": key, "reward_status": status} for key, status in changes.items()]
    answer = httpx.post(f"{server.url}/_sandbox/apply", json={"partnerstack": {"rewards": rewards}}, timeout=10)
    assert answer.status_code == 200, answer.text


def test_every_move_is_recorded_and_a_past_run_shows_its_own_statuses(
    database_url: str, engine: Engine, sandbox: SandboxServer
) -> None:
    settings = make_settings(database_url, sandbox, partnerstack={"trailing_reread_hours": 0})
    first = run_once(settings, as_of=AS_OF)
    with Session(engine) as s:
        ledger = {e.entry_key: e for e in s.scalars(select(LedgerEntry))}
        moves = moves_of(s, "consio")
    assert len(ledger) == 3
    # booked (payable: the worked example's dates have passed), then pushed by the same run
    assert sorted((m.entry_key, m.cause, m.status) for m in moves) == sorted(
        [(k, "booked", "payable") for k in ledger] + [(k, "pushed", "pushed") for k in ledger]
    )
    assert {m.run_id for m in moves} == {first.run_id}
    assert {m.at for m in moves} == {AS_OF}
    # the booking row counts in the entry's event month, the push in the run's
    by_key = {(m.entry_key, m.cause): m.period for m in moves}
    assert {k: by_key[(k, "booked")] for k in ledger} == {k: e.event_at.strftime("%Y-%m")
                                                          for k, e in ledger.items() if e.event_at}  # fmt: skip
    assert {by_key[(k, "pushed")] for k in ledger} == {"2026-06"}

    # the platform approves one reward, declines one and pays one; the next run reads it back
    rewards = {e.amount_minor: e.platform_reward_key for e in ledger.values()}
    assert len(rewards) == 2  # two 20000 rewards, one -10000
    paid_key, declined_key = sorted(k for k in (e.platform_reward_key for e in ledger.values()) if k)[:2]
    _set_reward_status(sandbox, {paid_key: "paid", declined_key: "declined"})
    second = run_once(settings, as_of=LATER)
    with Session(engine) as s:
        platform = [m for m in moves_of(s, "consio") if m.cause == "platform"]
        current = {e.entry_key: (e.status, e.platform_status) for e in s.scalars(select(LedgerEntry))}
    assert sorted(m.platform_status or "" for m in platform) == ["approved", "declined", "paid"]
    assert {(m.run_id, m.at, m.status) for m in platform} == {(second.run_id, LATER, "pushed")}
    latest = {m.entry_key: (m.status, m.platform_status) for m in sorted(platform, key=lambda m: m.id)}
    assert latest == current  # the current status is the latest row

    # the first run's report: pushed, nothing read back yet; the latest: what the platform said
    old = build_report(engine, first.run_id)
    new = build_report(engine, second.run_id)
    assert {(e.status, e.platform_status) for e in old.entries} == {("pushed", None)}
    assert [f for f in old.findings if f.code == "reward_declined"] == []
    assert sorted(e.platform_status or "" for e in new.entries) == ["approved", "declined", "paid"]
    assert [(f.code, f.subject_key) for f in new.findings if f.code == "reward_declined"] == [
        ("reward_declined", next(e.entry_key for e in new.entries if e.platform_status == "declined"))
    ]
    # the summary tells pushed rewards apart by what the platform said of them
    assert _summary_rows(engine, second.run_id, "pushed, platform") == {
        "pushed, platform approved": "1", "pushed, platform declined": "1", "pushed, platform paid": "1",
    }
    assert _summary_rows(engine, first.run_id, "pushed, platform") == {"pushed, platform not read yet": "3"}


def _summary_rows(engine: Engine, run_id: str, prefix: str) -> dict[str, str]:
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None).print(summary_table(engine, run_id))
    cells = [[c.strip() for c in line.split("│") if c.strip()] for line in buffer.getvalue().splitlines()]
    return {row[0]: row[1] for row in cells if len(row) == 2 and row[0].startswith(prefix)}


def test_a_run_that_booked_nothing_yet_shows_an_empty_ledger(
    database_url: str, engine: Engine, sandbox: SandboxServer
) -> None:
    """A run before the entries were booked shows none of them, though the ledger has them now."""
    settings = make_settings(database_url, sandbox)
    early = run_once(settings, as_of=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))  # before any invoice
    run_once(settings, as_of=AS_OF)
    assert build_report(engine, early.run_id).entries == []
    assert len(build_report(engine, "latest").entries) == 3


def test_the_migration_backfills_each_entry_with_its_current_status(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    upgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO runs (id, kind, program, as_of, started_at, status, notes) "
            "VALUES ('r1', 'sync', 'consio', '2026-06-30 00:00:00', '2026-12-01 08:00:00', 'succeeded', '[]')"
        ))
        for key, status, event_at, pushed_run in (("g#0", "pushed", "2026-03-02 00:00:00", "r1"),
                                                  ("h#0", "held", "2026-04-10 00:00:00", None)):
            conn.execute(text(
                "INSERT INTO ledger_entries (entry_key, group_key, seq, program, partner_key, kind, basis_minor, "
                "rate, amount_minor, currency, status, sources, event_at, created_run_id, created_at, push_state, "
                "push_attempts, pushed_run_id, pushed_at) VALUES (:k, :g, 0, 'consio', 'part_ada', 'commission', "
                "100, '0.2', 20, 'usd', :s, '[]', :e, 'r1', '2026-12-01 08:00:01', NULL, 0, :pr, NULL)"
            ), {"k": key, "g": key[0], "s": status, "e": event_at, "pr": pushed_run})  # fmt: skip
    upgrade(engine)
    with Session(engine) as s:
        rows = s.scalars(select(EntryStatusMove).order_by(EntryStatusMove.entry_key)).all()
        assert [(r.entry_key, r.status, r.cause, r.run_id, r.period, r.at) for r in rows] == [
            ("g#0", "pushed", "backfill", "r1", "2026-03", AS_OF),
            ("h#0", "held", "backfill", "r1", "2026-04", AS_OF),
        ]
    engine.dispose()
