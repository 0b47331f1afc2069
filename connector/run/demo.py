"""`connector demo`: the whole connector end to end on a fresh install, in seconds.

The bundled scenario is served in-process by the sandbox; the run uses a SQLite file in
the work directory, recreated each time so a second demo shows the same thing as the first
(the run creates its schema), and a `connector.toml` there points the next commands at it.
The as-of time is the scenario's `now`, so the numbers never depend on the day it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from connector.config import MIN_FINGERPRINT_KEY_CHARS, ConfigError, Settings
from connector.context import ProgressHook

DEMO_PROGRAM = "consio"
DB_NAME = "connector-demo.db"
CONFIG_NAME = "connector.toml"
DEMO_PARTNER = "part_ada"  # a partner of the demo scenario, for the printed next command


@dataclass
class DemoResult:
    run_id: str
    database: Path
    summary: Any = None  # the report's Rich summary table
    reports: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def demo_scenario_path() -> Path:
    path = Path(str(files("sandbox") / "scenarios" / "demo.json"))
    if not path.is_file():
        raise ConfigError(f"the bundled demo scenario is missing: {path}")
    return path


def _fresh_database(workdir: Path) -> Path:
    db = workdir / DB_NAME
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


KEY_NAME = "fingerprint.key"


def demo_fingerprint_key(workdir: Path) -> Path:
    """The demo's own fingerprint key file (made once, readable by its owner only).

    Why: there is no default key; the demo must not teach a known one either.
    """
    path = workdir / KEY_NAME
    if not path.is_file() or len(path.read_text(encoding="utf-8").strip()) < MIN_FINGERPRINT_KEY_CHARS:
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    return path


def demo_settings(db: Path, ps_url: str, stripe_url: str, costs_csv: Path, key_file: Path) -> Settings:
    """Settings for the sandbox only: no config file, so a ./connector.toml cannot redirect the demo."""
    from connector.rules.program import bundled_program_path

    values: dict[str, Any] = {
        "database": {"url": f"sqlite:///{db}"},
        "partnerstack": {"base_url": ps_url, "public_key": "demo-public", "secret_key": "demo-secret"},
        "stripe": {"base_url": stripe_url, "api_key": "sk_test_demo"},
        "program": {"file": str(bundled_program_path(DEMO_PROGRAM))},
        "finance": {"marketing_costs_file": str(costs_csv)},
        "security": {"fingerprint_key_file": str(key_file)},
        "report": {"stripe_dashboard": "https://dashboard.stripe.com/test"},  # the demo's key is a test key
    }
    return Settings(**values)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_demo_config(path: Path, settings: Settings) -> None:
    """A config file for the commands that read the demo's results afterwards (report, db current).

    Why: after the demo, `connector report` without it would look for ./connector.db (and find
    nothing). The APIs are left out: the sandbox stops with the demo, so a sync has nothing to reach.
    """
    lines = [
        "# Written by `connector demo`: read the demo's results with --config pointing here.",
        "[database]",
        f"url = {_toml_string(settings.database.url)}",
        "",
        "[program]",
        f"file = {_toml_string(settings.program.file)}",
        "",
        "[finance]",
        f"marketing_costs_file = {_toml_string(settings.finance.marketing_costs_file or '')}",
        "",
        "[security]",
        f"fingerprint_key_file = {_toml_string(settings.security.fingerprint_key_file or '')}",
        "",
        "[report]",
        f"output_dir = {_toml_string(str(path.parent))}",
        f"stripe_dashboard = {_toml_string(settings.report.stripe_dashboard)}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def next_commands(config: Path) -> list[str]:
    """What to try next, spelled against the demo's config file (as the user named the workdir)."""
    flag = f"--config {config}"
    return [
        "next:",
        f"  connector report {flag} --partner {DEMO_PARTNER}",
        f"  connector report {flag} --leaderboard",
        f"  connector report {flag} --format json",
    ]


def run_demo(
    workdir: Path,
    *,
    port: int = 0,
    progress: Callable[[], AbstractContextManager[ProgressHook | None]] | None = None,
) -> DemoResult:
    from connector.report import summary_table, write_report
    from connector.report.readable import links_of
    from connector.run.runner import run_once
    from connector.store.db import make_engine
    from sandbox.costs import write_costs_csv
    from sandbox.scenario import load_scenario
    from sandbox.server import SandboxServer

    scenario_path = demo_scenario_path()
    raw: dict[str, Any] = json.loads(scenario_path.read_text(encoding="utf-8"))
    now = raw.get("now")
    as_of = dt.datetime.fromisoformat(now) if isinstance(now, str) else None
    scenario = load_scenario(scenario_path)

    shown_config = workdir / CONFIG_NAME
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    db = _fresh_database(workdir)
    costs_csv = workdir / "marketing-costs.csv"
    write_costs_csv(scenario, costs_csv)

    with SandboxServer(scenario, port=port) as server:
        settings = demo_settings(db, server.partnerstack_url, server.stripe_url, costs_csv,
                                 demo_fingerprint_key(workdir))
        if progress is None:
            outcome = run_once(settings, kind="demo", as_of=as_of)
        else:
            with progress() as hook:
                outcome = run_once(settings, kind="demo", as_of=as_of, progress=hook)

    write_demo_config(workdir / CONFIG_NAME, settings)
    result = DemoResult(run_id=outcome.run_id, database=db)
    engine = make_engine(settings.database.url)
    try:
        result.summary = summary_table(engine, outcome.run_id)
        for fmt in ("html", "xlsx"):
            path = workdir / f"report.{fmt}"
            write_report(engine, outcome.run_id, fmt, path, links=links_of(settings.report))
            result.reports.append(path)
    finally:
        engine.dispose()
    result.lines.append(f"run {outcome.run_id} {outcome.status} (as of {outcome.as_of.isoformat()})")
    result.lines.append(f"database: {db}")
    result.lines.extend(f"report: {path}" for path in result.reports)
    result.lines.append(f"config: {workdir / CONFIG_NAME}")
    result.lines.extend(next_commands(shown_config))
    return result
