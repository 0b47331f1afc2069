"""`connector check`: passes against the sandbox; one clear line per thing that is wrong."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connector.run.cli import app
from connector.run.demo import demo_scenario_path
from sandbox.server import SandboxServer

from .conftest import settings_values, write_config

PS_KEYS = ("pk_live", "sk_live")
STRIPE_KEY = "sk_test_check"


@pytest.fixture
def locked_sandbox() -> Iterator[SandboxServer]:
    """The demo world (its groups are the Consio program's) accepting only these keys, as the APIs would."""
    with SandboxServer(demo_scenario_path(), stripe_key=STRIPE_KEY, partnerstack_keys=PS_KEYS) as server:
        yield server


def config(tmp_path: Path, server: SandboxServer | None, **sections: dict[str, Any]) -> Path:
    costs = tmp_path / "costs.csv"
    costs.write_text("customer,date,amount,currency,note\ncus_1,2026-05-01,1000,usd,fair\n", encoding="utf-8")
    fx = tmp_path / "fx.csv"
    fx.write_text("date,currency,rate\n2026-05-01,eur,1.08\n", encoding="utf-8")
    base = {
        "partnerstack": {"public_key": PS_KEYS[0], "secret_key": PS_KEYS[1]},
        "stripe": {"api_key": STRIPE_KEY},
        "finance": {"marketing_costs_file": str(costs), "fx_rates_file": str(fx)},
    }
    for name, section in sections.items():
        base.setdefault(name, {}).update(section)
    return write_config(tmp_path / "c.toml", settings_values(f"sqlite:///{tmp_path / 'c.db'}", server, **base))


def check(path: Path) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["check", "--config", str(path)], catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout.splitlines(), result.stderr


def failed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_check_passes_against_the_sandbox_and_creates_nothing(tmp_path: Path, locked_sandbox: SandboxServer) -> None:
    code, lines, stderr = check(config(tmp_path, locked_sandbox))
    assert code == 0, (lines, stderr)
    assert [line.split(":")[0] for line in lines] == [
        "ok   config", "ok   database", "ok   roll-forward", "ok   partnerstack", "ok   stripe", "ok   program",
        "ok   mappings",
        "ok   costs file", "ok   fx file",
    ]
    assert "no schema yet; sync and serve create it on start" in lines[1]
    assert lines[2] == "ok   roll-forward: no ledger yet"
    assert lines[6].startswith("ok   mappings: ") and "sample records of" in lines[6]
    assert not (tmp_path / "c.db").exists()


def test_bad_key_fails_the_api_check(tmp_path: Path, locked_sandbox: SandboxServer) -> None:
    code, lines, _ = check(config(tmp_path, locked_sandbox, stripe={"api_key": "sk_test_wrong"}))
    assert code == 1
    assert failed(lines) == [
        "FAIL stripe: Stripe rejected the API keys (401)",
        "FAIL mappings: not checked against sample pages: an API did not answer",
    ]


def test_empty_key_exits_2_naming_the_setting(tmp_path: Path, locked_sandbox: SandboxServer) -> None:
    code, lines, stderr = check(config(tmp_path, locked_sandbox, stripe={"api_key": ""}))
    assert code == 2 and lines == []
    assert stderr.strip().splitlines()[-1] == (
        "connector: error: bad setting stripe.api_key: empty; set it in the config file or "
        "CONNECTOR_STRIPE__API_KEY"
    )
    code, _, stderr = check(config(tmp_path, locked_sandbox, partnerstack={"secret_key": "sk live"}))
    assert code == 2 and "bad setting partnerstack.secret_key: contains spaces" in stderr


def test_unreachable_host_fails_in_seconds(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = config(tmp_path, None, http={"max_attempts": 8},
                  partnerstack={"base_url": f"http://127.0.0.1:{port}/api/v2"},
                  stripe={"base_url": f"http://127.0.0.1:{port}/v1"})
    started = time.monotonic()
    code, lines, _ = check(path)
    elapsed = time.monotonic() - started
    assert code == 1
    bad = failed(lines)
    assert bad[0].startswith("FAIL partnerstack: PartnerStack GET /groups: gave up after 1 attempt(s): ConnectError")
    assert bad[0].endswith(f"(at 127.0.0.1:{port})")
    assert bad[1].startswith("FAIL stripe: Stripe GET /customers: gave up after 1 attempt(s)")
    assert elapsed < 60  # not 8 attempts with backoff (the run's sleeps are patched out anyway)


def test_unknown_group_in_the_program_fails(tmp_path: Path, locked_sandbox: SandboxServer) -> None:
    program = Path("programs/consio.toml").read_text(encoding="utf-8").replace(
        "by_group = { master = 0.20,", "by_group = { platinum = 0.30, master = 0.20,"
    )
    (tmp_path / "p.toml").write_text(program, encoding="utf-8")
    code, lines, _ = check(config(tmp_path, locked_sandbox, program={"file": str(tmp_path / "p.toml")}))
    assert code == 1
    (line,) = failed(lines)
    assert line.startswith(f"FAIL program: {tmp_path / 'p.toml'}: rates.by_group names group(s) PartnerStack "
                           "does not have: platinum (it has: ")


@pytest.mark.parametrize("setting", ["marketing_costs_file", "fx_rates_file"])
def test_missing_finance_file_fails(tmp_path: Path, locked_sandbox: SandboxServer, setting: str) -> None:
    code, lines, _ = check(config(tmp_path, locked_sandbox, finance={setting: str(tmp_path / "gone.csv")}))
    assert code == 1
    assert failed(lines) == [
        f"FAIL {'costs' if setting.startswith('marketing') else 'fx'} file: finance.{setting} = "
        f"{tmp_path / 'gone.csv'}: file not found"
    ]


def test_fx_file_without_its_columns_fails(tmp_path: Path, locked_sandbox: SandboxServer) -> None:
    (tmp_path / "fx-bad.csv").write_text("day,ccy,rate\n", encoding="utf-8")
    code, lines, _ = check(config(tmp_path, locked_sandbox, finance={"fx_rates_file": str(tmp_path / "fx-bad.csv")}))
    assert code == 1
    assert failed(lines) == [f"FAIL fx file: {tmp_path / 'fx-bad.csv'}: missing column(s) date, currency "
                             "(expected date,currency,rate)"]
