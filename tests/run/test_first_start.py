"""A fresh container comes up healthy: the image's default command (`connector serve`) with only the
database URL and the keys set (plus, here, the sandbox's URLs), on an empty SQLite file.

No Docker engine here: the entry point runs as a process with the image's environment
(Dockerfile `ENV`, `WORKDIR` with no config file), which is what the container would run.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from connector.run.demo import demo_scenario_path
from sandbox.server import SandboxServer

from ..conftest import child_env

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINT = [sys.executable, "-c", "from connector.run.cli import main; main()", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def image_env(database: Path, port: int, server: SandboxServer) -> dict[str, str]:
    keep = child_env()
    return {
        **keep,
        "PYTHONPATH": str(REPO),
        "CONNECTOR_DATABASE__URL": f"sqlite:///{database}",
        "CONNECTOR_SERVE__HOST": "127.0.0.1",
        "CONNECTOR_SERVE__PORT": str(port),
        "CONNECTOR_LOG__FORMAT": "json",
        "CONNECTOR_PARTNERSTACK__PUBLIC_KEY": "pk_live",
        "CONNECTOR_PARTNERSTACK__SECRET_KEY": "sk_live",
        "CONNECTOR_STRIPE__API_KEY": "sk_test_key",
        "CONNECTOR_PARTNERSTACK__BASE_URL": server.partnerstack_url,
        "CONNECTOR_STRIPE__BASE_URL": server.stripe_url,
    }


def wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        body = response.json()
        if body.get("last_status") is not None:
            assert response.status_code == 200, body
            return body
        time.sleep(0.2)
    raise AssertionError(f"no finished run (exit {proc.poll()}): {body}")


def test_serve_on_an_empty_database_comes_up_healthy(tmp_path: Path) -> None:
    database = tmp_path / "connector.db"
    port = free_port()
    with SandboxServer(demo_scenario_path()) as server:
        proc = subprocess.Popen(ENTRY_POINT, cwd=tmp_path, env=image_env(database, port, server),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            body = wait_healthy(port, proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
    assert body["status"] == "ok" and body["last_status"] == "succeeded"
    assert proc.returncode == 0, err
    messages = [json.loads(line)["msg"] for line in err.splitlines() if line.startswith("{")]
    assert "database schema created" in messages and "run succeeded" in messages
