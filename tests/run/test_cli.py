"""The command line's contract: exit codes 0/1/2/3 and one line on stderr for expected errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import connector.pull
from connector.config import ConfigError
from connector.run.cli import app, parse_time
from connector.run.lock import acquire
from connector.run.runner import RunFailed, run_once
from connector.store.models import LedgerEntry, Run, SyncCursor
from sandbox.server import SandboxServer

from .conftest import AS_OF, EXPECTED_AMOUNTS, make_settings, settings_values, write_config

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def one_line(text: str) -> str:
    """The error line; the rest of stderr is JSON log lines (stderr is not a TTY here)."""
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("connector: error: ")]
    assert len(errors) == 1, text
    others = [line for line in text.splitlines() if line.strip() and line not in errors]
    assert all(line.startswith("{") and json.loads(line) for line in others), text
    return errors[0]


def config_for(tmp_path: Path, database_url: str, server: SandboxServer | None, **sections: dict[str, Any]) -> Path:
    return write_config(tmp_path / "connector.toml", settings_values(database_url, server, **sections))


def test_sync_succeeds_and_pushes_the_worked_example(
    tmp_path: Path, database_url: str, engine: Engine, sandbox: SandboxServer
) -> None:
    config = config_for(tmp_path, database_url, sandbox)
    result = invoke("sync", "--config", str(config), "--as-of", "2026-06-30T00:00:00Z")
    assert result.exit_code == 0, result.stderr
    assert "3 rewards pushed" in result.stdout
    with Session(engine) as session:
        ledger = session.scalars(select(LedgerEntry).order_by(LedgerEntry.amount_minor)).all()
        run = session.scalars(select(Run)).one()
    assert [(e.amount_minor, e.status) for e in ledger] == [(a, "pushed") for a in EXPECTED_AMOUNTS]
    assert (run.status, run.kind, run.program, run.as_of) == ("succeeded", "sync", "consio", AS_OF)


def test_config_from_environment_variable(tmp_path: Path, database_url: str, sandbox: SandboxServer) -> None:
    config = config_for(tmp_path, database_url, sandbox)
    result = invoke("sync", "--as-of", "2026-06-30", env={"CONNECTOR_CONFIG": str(config)})
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("section", "values", "named"),
    [
        ("http", {"max_attempts": 0}, "http.max_attempts"),
        ("database", {"url": "mysql://x/y"}, "database.url"),
        ("schedule", {"interval_seconds": "soon"}, "schedule.interval_seconds"),
    ],
)
def test_bad_config_exits_2_naming_the_setting(
    tmp_path: Path, section: str, values: dict[str, Any], named: str
) -> None:
    config = write_config(tmp_path / "bad.toml", {section: values})
    result = invoke("sync", "--config", str(config))
    assert result.exit_code == 2
    assert named in one_line(result.stderr)


def test_missing_config_file_and_bad_as_of_exit_2(tmp_path: Path, database_url: str) -> None:
    result = invoke("sync", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2 and "config file not found" in one_line(result.stderr)
    config = config_for(tmp_path, database_url, None)
    result = invoke("sync", "--config", str(config), "--as-of", "yesterday")
    assert result.exit_code == 2 and "--as-of" in one_line(result.stderr)


def behind_head(path: Path) -> str:
    """A SQLite database migrated to the revision before head (an upgrade not yet applied)."""
    from connector.store.db import make_engine, upgrade

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine, "0004")
    engine.dispose()
    return url


def test_schema_behind_head_exits_2_saying_how_to_fix(tmp_path: Path) -> None:
    from connector.store.db import head_revision

    head = head_revision()
    assert head is not None and head > "0004"
    config = write_config(tmp_path / "c.toml", settings_values(behind_head(tmp_path / "old.db"), None))
    result = invoke("sync", "--config", str(config))
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        f"connector: error: database schema is at 0004, expected {head}: run `connector db upgrade`"
    )
    current = invoke("db", "current", "--config", str(config))
    assert current.exit_code == 1 and f"at revision 0004 (behind head {head}" in current.stdout
    upgraded = invoke("db", "upgrade", "--config", str(config))
    assert upgraded.exit_code == 0, upgraded.stderr
    assert "revision" in upgraded.stdout
    current = invoke("db", "current", "--config", str(config))
    assert current.exit_code == 0 and f"at revision {head} (at head)" in current.stdout


def test_sync_creates_the_schema_on_an_empty_database(tmp_path: Path, sandbox: SandboxServer) -> None:
    values = settings_values(f"sqlite:///{tmp_path / 'new.db'}", sandbox)
    config = write_config(tmp_path / "c.toml", values)
    result = invoke("sync", "--config", str(config), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.stderr
    assert invoke("db", "current", "--config", str(config)).exit_code == 0


def test_migrate_on_start_migrates_a_schema_behind_head(tmp_path: Path, sandbox: SandboxServer) -> None:
    values = settings_values(behind_head(tmp_path / "old.db"), sandbox, database={"migrate_on_start": True})
    config = write_config(tmp_path / "c.toml", values)
    result = invoke("sync", "--config", str(config), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.stderr
    assert invoke("db", "current", "--config", str(config)).exit_code == 0


def test_report_without_a_database_exits_2_and_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONNECTOR_CONFIG", raising=False)
    result = invoke("report", "--partner", "part_ada")
    assert result.exit_code == 2
    assert one_line(result.stderr) == (
        "connector: error: no database at connector.db: run `connector sync` first, or pass --config"
    )
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "connector.db").touch()  # an empty file: SQLite's empty database
    result = invoke("report")
    assert result.exit_code == 2 and "is empty: run `connector sync` first" in one_line(result.stderr)
    assert (tmp_path / "connector.db").stat().st_size == 0


def test_version_and_help() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == "connector 0.1.0"
    result = invoke("--help")
    assert result.exit_code == 0 and "check" in result.stdout and "--version" in result.stdout


def test_unreachable_database_exits_1_naming_the_host_not_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://connector:s3cret-pw@127.0.0.1:1/connector?connect_timeout=2"
    config = write_config(tmp_path / "c.toml", settings_values(url, None))
    for args in (["sync"], ["db", "upgrade"]):
        result = invoke(*args, "--config", str(config))
        assert result.exit_code == 1
        line = one_line(result.stderr)
        assert "127.0.0.1:1/connector" in line and "s3cret-pw" not in line


def test_lock_held_exits_3(tmp_path: Path, database_url: str, engine: Engine, sandbox: SandboxServer) -> None:
    config = config_for(tmp_path, database_url, sandbox)
    handle = acquire(engine, ttl_seconds=60)
    try:
        result = invoke("sync", "--config", str(config))
    finally:
        handle.release()
    assert result.exit_code == 3
    assert "another run holds the lock" in one_line(result.stderr)


def test_two_concurrent_syncs_one_exits_3(
    tmp_path: Path, database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(tmp_path, database_url, sandbox)
    in_pull, release = threading.Event(), threading.Event()
    real_pull = connector.pull.pull

    def slow_pull(ctx: Any) -> Any:
        in_pull.set()
        assert release.wait(timeout=30)
        return real_pull(ctx)

    monkeypatch.setattr(connector.pull, "pull", slow_pull)
    first: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: first.setdefault("outcome", run_once(
        make_settings(database_url, sandbox), as_of=AS_OF)))
    thread.start()
    try:
        assert in_pull.wait(timeout=30)
        second = invoke("sync", "--config", str(config), "--as-of", "2026-06-30")
    finally:
        release.set()
        thread.join(timeout=60)
    assert second.exit_code == 3
    assert first["outcome"].status == "succeeded"
    with Session(engine) as session:
        assert session.scalars(select(Run.status)).all() == ["succeeded"]  # the refused run left no row


def test_unreachable_upstream_exits_1_with_one_line(tmp_path: Path, database_url: str, engine: Engine) -> None:
    config = config_for(
        tmp_path, database_url, None,
        partnerstack={"base_url": "http://127.0.0.1:1/api/v2"},
        stripe={"base_url": "http://127.0.0.1:1/v1"},
        http={"max_attempts": 2, "connect_timeout_seconds": 2},
    )
    result = invoke("sync", "--config", str(config))
    assert result.exit_code == 1
    assert "failed" in one_line(result.stderr)
    with Session(engine) as session:
        run = session.scalars(select(Run)).one()
    assert run.status == "failed" and run.error and "\n" not in run.error and run.finished_at is not None


def test_rejected_keys_exit_1_without_echoing_them(tmp_path: Path, database_url: str) -> None:
    with SandboxServer(
        Path(__file__).parents[1] / "scenarios" / "consio-example.json",
        stripe_key="sk_test_right", partnerstack_keys="pub:right",
    ) as server:
        config = config_for(tmp_path, database_url, server, stripe={"api_key": "sk_test_wrong-key"},
                            partnerstack={"public_key": "pub", "secret_key": "wrong-secret"})
        result = invoke("sync", "--config", str(config))
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert "rejected the API keys" in line
    assert "wrong-secret" not in line and "sk_test_wrong-key" not in line


def test_backfill_does_not_move_cursors(database_url: str, engine: Engine, sandbox: SandboxServer) -> None:
    settings = make_settings(database_url, sandbox)
    run_once(settings, as_of=AS_OF)
    with Session(engine) as session:
        before = {c.stream: dict(c.state) for c in session.scalars(select(SyncCursor))}
    assert before  # the sync did save cursors
    outcome = run_once(settings, kind="backfill", as_of=AS_OF, since=parse_time("2026-01-01", "--since"),
                       until=parse_time("2026-06-30", "--until"))
    with Session(engine) as session:
        after = {c.stream: dict(c.state) for c in session.scalars(select(SyncCursor))}
        kinds = session.scalars(select(Run.kind).order_by(Run.started_at)).all()
    assert after == before
    assert kinds == ["sync", "backfill"]
    assert outcome.push is not None and outcome.push.pushed == 0  # nothing new to push


def test_backfill_needs_a_window(database_url: str) -> None:
    settings = make_settings(database_url, None)
    with pytest.raises(ConfigError, match="--until must be after --since"):
        run_once(settings, kind="backfill", since=AS_OF, until=AS_OF)
    result = invoke("backfill")
    assert result.exit_code == 2  # --since is required


def test_report_of_the_latest_run_as_json(
    tmp_path: Path, database_url: str, sandbox: SandboxServer
) -> None:
    config = config_for(tmp_path, database_url, sandbox)
    assert invoke("sync", "--config", str(config), "--as-of", "2026-06-30").exit_code == 0
    result = invoke("report", "--config", str(config), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(e["amount_minor"] for e in report["entries"]) == EXPECTED_AMOUNTS
    assert {e["status"] for e in report["entries"]} == {"pushed"}
    missing = invoke("report", "--config", str(config), "--run", "no-such-run")
    assert missing.exit_code == 2


def test_as_of_accepts_dates_and_zulu_times() -> None:
    assert parse_time("2026-06-30", "--as-of") == AS_OF
    assert parse_time("2026-06-30T00:00:00Z", "--as-of") == AS_OF
    assert parse_time("2026-06-30T02:00:00+02:00", "--as-of") == AS_OF
    with pytest.raises(ConfigError, match="--as-of"):
        parse_time("30/06/2026", "--as-of")


def test_failed_run_is_recorded_and_raised(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_ctx: Any) -> Any:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(connector.pull, "pull", broken)
    with pytest.raises(RunFailed, match="^pull failed: disk on fire$"):
        run_once(make_settings(database_url, None), as_of=AS_OF)
    with Session(engine) as session:
        run = session.scalars(select(Run)).one()
    assert (run.status, run.error) == ("failed", "pull failed: disk on fire")
    acquire(engine, ttl_seconds=60).release()  # the lock was released


def test_sync_full_restores_a_hand_deleted_entry_without_paying_twice(
    tmp_path: Path, database_url: str, engine: Engine, sandbox: SandboxServer
) -> None:
    """An incremental sync cannot see a row deleted by hand; `sync --full` recomputes and puts it back.

    The entry comes back under its own key; the pull mirrored its reward, whose description carries
    that key, so push records that reward instead of sending a second one: still one reward per entry.
    """
    config = config_for(tmp_path, database_url, sandbox)
    assert invoke("sync", "--config", str(config), "--as-of", "2026-06-30T00:00:00Z").exit_code == 0
    with Session(engine) as session, session.begin():
        gone = session.scalars(select(LedgerEntry).where(LedgerEntry.amount_minor == -10000)).one()
        key, reward = gone.entry_key, gone.platform_reward_key
        session.delete(gone)

    quiet = invoke("sync", "--config", str(config), "--as-of", "2026-06-30T00:00:00Z")
    assert quiet.exit_code == 0 and "0 ledger entries appended" in " ".join(quiet.stdout.split())
    full = invoke("sync", "--full", "--config", str(config), "--as-of", "2026-06-30T00:00:00Z")
    assert full.exit_code == 0, full.stderr
    assert "1 ledger entries appended, 1 rewards pushed" in " ".join(full.stdout.split())
    with Session(engine) as session:
        ledger = session.scalars(select(LedgerEntry).order_by(LedgerEntry.amount_minor)).all()
    assert [(e.amount_minor, e.status) for e in ledger] == [(a, "pushed") for a in EXPECTED_AMOUNTS]
    back = next(e for e in ledger if e.entry_key == key)
    assert back.platform_reward_key == reward
    rewards = [r for r in sandbox.state.pushed_rewards if f"[entry:{key}]" in r["description"]]
    assert len(rewards) == 1
