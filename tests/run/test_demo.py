"""`connector demo` is the README's first command: it must work from a fresh install, twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.run.demo import demo_scenario_path

CONNECTOR = Path(sys.executable).with_name("connector")


def run_demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    return subprocess.run(
        [str(CONNECTOR), "demo", "--workdir", "out"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not CONNECTOR.exists(), reason="console script not installed (pip install -e .)")
def test_demo_runs_end_to_end_twice(tmp_path: Path) -> None:
    demo_scenario_path()  # the bundled scenario ships with the package
    for _ in range(2):  # a second run starts from a fresh demo database
        done = run_demo(tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        out = tmp_path / "out"
        for name in ("report.html", "report.xlsx", "connector-demo.db"):
            assert (out / name).stat().st_size > 0
            assert str(out / name) in done.stdout
        assert "succeeded" in done.stdout
        key = out / "fingerprint.key"  # no default key: the demo makes its own, owner-only
        assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text(encoding="utf-8").strip()) == 64
        assert f'fingerprint_key_file = "{key.resolve()}"' in (out / "connector.toml").read_text(encoding="utf-8")


def test_demo_writes_a_config_the_printed_next_commands_work_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from connector.run.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONNECTOR_CONFIG", raising=False)
    monkeypatch.delenv("CONNECTOR_SECURITY__FINGERPRINT_KEY")  # the demo needs none from outside
    runner = CliRunner()
    done = runner.invoke(app, ["demo", "--workdir", "out"], catch_exceptions=False)
    assert done.exit_code == 0, done.stderr
    commands = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("connector report")]
    assert commands[0] == "connector report --config out/connector.toml --partner part_ada"
    for command in commands:
        result = runner.invoke(app, command.split()[1:], catch_exceptions=False)
        assert result.exit_code == 0, (command, result.stderr)
    statement = runner.invoke(app, commands[0].split()[1:]).stdout
    assert "part_ada" in statement
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no stray ./connector.db
