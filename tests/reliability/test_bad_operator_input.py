"""Bad operator input: each mistake ends in one line on stderr and the documented exit code
(interfaces.md: 1 the run failed, 2 bad usage or config), never a traceback or a retry storm.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connector.run.cli import app
from sandbox.server import SandboxServer

from ..run.conftest import write_config
from .conftest import AS_OF, SCENARIOS, config_file, sandbox_stats

EXAMPLE = SCENARIOS / "consio-example.json"


def sync(config: Path) -> tuple[int, str]:
    """Exit code and the single `connector: error:` line (asserting there is exactly one)."""
    result = CliRunner().invoke(app, ["sync", "--config", str(config), "--as-of", AS_OF], catch_exceptions=False)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("connector: error: ")]
    assert len(errors) == 1, result.stderr
    return result.exit_code, errors[0]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    code, line = sync(tmp_path / "nowhere.toml")
    assert code == 2 and "config file not found" in line


def test_malformed_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[database\nurl = 'sqlite:///x.db'\n", encoding="utf-8")
    code, line = sync(config)
    assert code == 2 and str(config) in line


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"database": {"colour": "blue"}}, "database.colour"),
        ({"nonsense": {"x": 1}}, "nonsense"),
        ({"stripe": {"page_size": 1000}}, "stripe.page_size"),
    ],
)
def test_unknown_or_invalid_setting_exits_2_naming_it(tmp_path: Path, values: dict[str, Any], named: str) -> None:
    code, line = sync(write_config(tmp_path / "bad.toml", values))
    assert code == 2 and named in line


def test_unknown_program_exits_2(tmp_path: Path) -> None:
    missing = write_config(tmp_path / "a.toml", {"program": {"file": "programs/no-such-program.toml"}})
    code, line = sync(missing)
    assert code == 2 and "no-such-program" in line
    program = tmp_path / "odd.toml"
    program.write_text(Path("programs/consio.toml").read_text(encoding="utf-8") + "\nsurprise_key = 1\n",
                       encoding="utf-8")
    code, line = sync(write_config(tmp_path / "b.toml", {"program": {"file": str(program)}}))
    assert code == 2 and "surprise_key" in line


@pytest.mark.parametrize("api", ["PartnerStack", "Stripe"])
def test_wrong_api_keys_fail_at_once_naming_the_api(tmp_path: Path, database_url: str, api: str) -> None:
    with SandboxServer(EXAMPLE, stripe_key="sk_test_right", partnerstack_keys="pk_right:sk_right") as sandbox:
        keys: dict[str, dict[str, Any]] = {"stripe": {"api_key": "sk_test_right"},
                                           "partnerstack": {"public_key": "pk_right", "secret_key": "sk_right"}}
        if api == "Stripe":
            keys["stripe"]["api_key"] = "sk_test_wrong"
        else:
            keys["partnerstack"]["secret_key"] = "sk_wrong"
        config = config_file(tmp_path, database_url, sandbox, http={"max_attempts": 8}, **keys)
        code, line = sync(config)
        stats = sandbox_stats(sandbox)
    assert code == 1 and api in line and "key" in line.lower(), line
    prefix = "/partnerstack" if api == "PartnerStack" else "/stripe"
    rejected = sum(n for path, n in stats["paths"].items() if path.startswith(prefix))
    assert 1 <= rejected <= 4, stats  # one 401 per concurrent reader at most: no retry storm (8 attempts allowed)


def test_unreachable_api_host_fails_naming_it(tmp_path: Path, database_url: str) -> None:
    port = closed_port()
    config = config_file(tmp_path, database_url, None, http={"max_attempts": 2},
                         partnerstack={"base_url": f"http://127.0.0.1:{port}/api/v2"},
                         stripe={"base_url": f"http://127.0.0.1:{port}/v1"})
    code, line = sync(config)
    assert code == 1 and ("PartnerStack" in line or "Stripe" in line) and f"{port}" in line, line


def test_unreachable_database_fails_naming_it(tmp_path: Path) -> None:
    port = closed_port()
    config = write_config(tmp_path / "c.toml", {"database": {"url": f"postgresql+psycopg://u:topsecret@127.0.0.1:{port}/x"},
                                                "stripe": {"api_key": "sk_test"},
                                                "partnerstack": {"public_key": "pk", "secret_key": "sk"}})
    code, line = sync(config)
    assert code == 1 and f"127.0.0.1:{port}" in line and "topsecret" not in line, line


def test_missing_migrations_exit_2_saying_what_to_run(tmp_path: Path) -> None:
    from connector.store.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0004")  # behind head; an empty database would be created on start instead
    engine.dispose()
    config = write_config(tmp_path / "c.toml", {"database": {"url": url}, "stripe": {"api_key": "sk_test"},
                                                "partnerstack": {"public_key": "pk", "secret_key": "sk"}})
    code, line = sync(config)
    assert code == 2 and "connector db upgrade" in line, line
