"""Approval before push through the command line, against the sandbox: `payouts`, `approve`, `reject`.

With `[push] approval = "required"` a sync pushes nothing until its batch is approved; the
approval's exit codes follow the CLI's contract (1 refused, 2 unknown batch, 3 a run holds the lock).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from typer.testing import CliRunner

from connector.run.cli import app
from connector.run.lock import acquire
from sandbox.server import SandboxServer

from .conftest import settings_values, write_config
from .test_push import assert_each_pushed_once, platform_rewards

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def error_line(text: str) -> str:
    assert "Traceback" not in text
    (line,) = [line for line in text.splitlines() if line.startswith("connector: error: ")]
    return line


def test_sync_waits_for_approval_then_pushes_exactly_once(
    tmp_path: Path, database_url: str, engine: Engine, sandbox: SandboxServer
) -> None:
    config = str(write_config(tmp_path / "connector.toml", settings_values(
        database_url, sandbox, push={"approval": "required", "second_approval_over": 30000})))  # fmt: skip
    first = invoke("sync", "--config", config, "--as-of", "2026-06-30T00:00:00Z")
    assert first.exit_code == 0, first.stderr
    assert "0 rewards pushed" in first.stdout and "waits for `connector approve" in first.stdout
    assert platform_rewards(sandbox) == []

    listed = invoke("payouts", "--config", config, "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    (batch,) = json.loads(listed.stdout)["batches"]
    assert (batch["status"], batch["entries"], batch["totals_minor"], batch["payout_out_minor"],
            batch["approvals_needed"]) == ("pending", 3, {"usd": 30000}, 40000, 2)  # fmt: skip
    assert [(p["partner_key"], p["amounts_minor"], p["reasons"]) for p in batch["partners"]] == [
        ("part_ada", {"usd": 30000}, {"clawback": 1, "commission": 2})]
    table = invoke("payouts", "--config", config)
    assert batch["id"] in table.stdout and batch["content_hash"] in table.stdout

    assert invoke("approve", batch["id"], "--by", "alice", "--config", config).exit_code == 0
    again = invoke("approve", batch["id"], "--by", "alice", "--config", config)
    assert again.exit_code == 1 and "second, different approver" in error_line(again.stderr)
    unknown = invoke("approve", "b-0000000000", "--by", "alice", "--config", config)
    assert unknown.exit_code == 2 and "no payout batch" in error_line(unknown.stderr)
    handle = acquire(engine, ttl_seconds=60)
    try:
        locked = invoke("approve", batch["id"], "--by", "bob", "--config", config)
    finally:
        handle.release()
    assert locked.exit_code == 3
    second_run = invoke("sync", "--config", config, "--as-of", "2026-06-30T00:00:00Z")
    assert "0 rewards pushed" in second_run.stdout and platform_rewards(sandbox) == []

    approved = invoke("approve", batch["id"], "--by", "bob", "--note", "ok", "--config", config)
    assert approved.exit_code == 0 and f"payout batch {batch['id']} approved" in approved.stdout
    pushed = invoke("sync", "--config", config, "--as-of", "2026-06-30T00:00:00Z")
    assert pushed.exit_code == 0 and "3 rewards pushed" in pushed.stdout
    assert_each_pushed_once(engine, sandbox)

    late = invoke("reject", batch["id"], "--by", "carol", "--note", "too late", "--config", config)
    assert late.exit_code == 1 and "is pushed" in error_line(late.stderr)
    report = json.loads(invoke("report", "--config", config, "--format", "json").stdout)
    assert [(a["action"], a["actor"]) for a in report["payout_audit"]] == [
        ("built", None), ("approved", "alice"), ("approved", "bob"), ("pushed", None)]
    assert report["payout_audit"][-1]["detail"] == {"entries": 3, "payout": {"usd": 30000}}
    everything = json.loads(invoke("payouts", "--config", config, "--format", "json", "--all").stdout)
    assert [b["status"] for b in everything["batches"]] == ["pushed"]
