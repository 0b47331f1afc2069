"""The container recipe and the documented settings (no Docker engine here: read the files)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import BaseModel

from connector.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_runs_serve_as_non_root_with_a_healthcheck() -> None:
    steps = dockerfile_instructions()
    kinds = [k for k, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert any(k == "RUN" and "pip install ." in v for k, v in steps)
    user = [v for k, v in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, (k, v) in enumerate(steps) if k == "RUN" and "pip install" in v)
    health = [v for k, v in steps if k == "HEALTHCHECK"]
    assert len(health) == 1 and "/healthz" in health[0] and "urllib" in health[0] and "curl" not in health[0]
    assert [v for k, v in steps if k == "CMD"][-1] == '["connector", "serve"]'
    env = " ".join(v for k, v in steps if k == "ENV")
    assert "CONNECTOR_DATABASE__URL=" in env


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".git", ".venv", "*.db", "connector.toml", ".env"):
        assert pattern in ignored


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out.extend((name, field) for _, field in _fields(sub))
        else:
            out.append((prefix, name))
    return out


def test_config_example_documents_every_setting_and_loads() -> None:
    path = REPO / "config.example.toml"
    text = path.read_text(encoding="utf-8")
    sections = re.split(r"(?m)^\[([a-z_]+)\]\s*$", text)
    body = {sections[i]: sections[i + 1] for i in range(1, len(sections), 2)}
    missing = []
    for section, name in _fields(Settings):
        block = body.get(section, "")
        if not re.search(rf"(?m)^#?\s*{re.escape(name)}\s*=", block):
            missing.append(f"{section}.{name}")
    assert missing == []
    tomllib.loads(text)
    assert load_settings(path) == Settings()  # the example states the defaults
