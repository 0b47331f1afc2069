"""`kill -9` during the push of an *approved* batch (`[push] approval = "required"`): every reward once.

The crash harness of `test_crash_anywhere` (forked `connector sync` children that SIGKILL themselves
at seeded crash points counted from the push stage's start). First a clean sync builds the batch and
sends nothing; the batch is approved through the CLI; then the children are killed inside the push
again and again until one runs to the end. The end state must equal a run without approval: the same
ledger, every reward on the platform exactly once, and the batch `pushed` in the audit.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.db import make_engine
from connector.store.models import PayoutAudit, PayoutBatch
from sandbox.server import SandboxServer

from .conftest import config_file, reward_counts, run_cli
from .medium import medium_scenario
from .test_crash_anywhere import _assert_clean_state, _clean_run, crash_loop

KILLS = 10


@pytest.mark.slow
def test_kills_during_an_approved_push_leave_every_reward_once(tmp_path: Path, database_url: str) -> None:
    scenario = tmp_path / "push-heavy.json"
    scenario.write_text(json.dumps(medium_scenario(partners=30, invoices_per_customer=6, referred_every=2)))
    clean, clean_ledger, clean_rewards = _clean_run(tmp_path, scenario)
    span = clean["points"] - clean["push_start"]
    with SandboxServer(scenario) as sandbox:
        config = config_file(tmp_path, database_url, sandbox, push={"approval": "required"})
        (built,) = crash_loop(config, tmp_path / "build", kills=0, points=0)
        assert built["exit"] == 0 and sum(reward_counts(sandbox).values()) == 0  # nothing before approval
        listed = run_cli("payouts", "--config", str(config), "--format", "json")
        (batch,) = json.loads(listed.stdout)["batches"]
        assert batch["entries"] == sum(clean_rewards.values())
        approved = run_cli("approve", batch["id"], "--by", "alice", "--config", str(config))
        assert approved.returncode == 0, approved.stderr

        runs = crash_loop(config, tmp_path / "crashes", kills=KILLS, points=max(2, span // KILLS), in_push=True)
        _assert_clean_state(database_url, sandbox, clean_ledger, clean_rewards)
    killed = [r for r in runs if r["exit"] == -signal.SIGKILL]
    assert len(killed) == KILLS and runs[-1]["exit"] == 0
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            assert session.scalars(select(PayoutBatch.status)).all() == ["pushed"]
            audit = session.scalars(select(PayoutAudit).order_by(PayoutAudit.id)).all()
    finally:
        engine.dispose()
    actions = [a.action for a in audit]
    assert actions[:2] == ["built", "approved"] and set(actions[2:]) == {"pushed"}
    assert sum(int(a.detail["entries"]) for a in audit if a.action == "pushed") == batch["entries"]
    print(f"approved push: {len(killed)} kills survived, {batch['entries']} rewards each once, "
          f"kills at push points {sorted(r['kill_at'] for r in killed)} of a {span}-point push")
