"""Readers for the deployment files, shared by tests/deploy (no Docker engine or cluster needed)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
PROMETHEUS = REPO / "deploy" / "prometheus"


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def find_tool(name: str) -> str | None:
    """A command on PATH or beside this interpreter (the venv's bin/, where pip puts hadolint)."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def require_tool(name: str, why: str) -> str:
    """The tool's path; without it skip locally, but fail in CI, which installs it (dev extra)."""
    path = find_tool(name)
    if path is None:
        message = f"{name} not found ({why})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class Instruction:
    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    steps: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [s for s in self.steps if s.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def dockerfile_lines(path: Path | None = None) -> list[str]:
    text = (path or REPO / "Dockerfile").read_text(encoding="utf-8")
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") and not pending:
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append(line)
    return out


def parse_dockerfile(path: Path | None = None) -> list[Stage]:
    stages: list[Stage] = []
    for line in dockerfile_lines(path):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(index=len(stages), base=parts[0], name=name))
            continue
        assert stages, f"instruction before the first FROM: {line}"
        flags: dict[str, str] = {}
        words: list[str] = []
        if keyword in ("COPY", "ADD"):
            for word in shlex.split(args):
                match = re.fullmatch(r"--([a-z-]+)(?:=(.*))?", word)
                if match and not words:
                    flags[match.group(1)] = match.group(2) or ""
                else:
                    words.append(word)
        stages[-1].steps.append(Instruction(keyword, args, flags, words))
    return stages


def stage(stages: list[Stage], ref: str) -> Stage:
    """A stage by name or by index (`COPY --from=0`)."""
    for s in stages:
        if s.name == ref or str(s.index) == ref:
            return s
    raise KeyError(ref)


def lineage(stages: list[Stage], target: Stage) -> list[Stage]:
    """The target and the stages it is built FROM, base first."""
    chain = [target]
    while True:
        try:
            chain.append(stage(stages, chain[-1].base))
        except KeyError:
            return list(reversed(chain))


def k8s_documents() -> dict[str, list[dict]]:
    import yaml

    return {
        p.name: [d for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d]
        for p in sorted(KUBE.glob("*.yaml"))
    }


def k8s_one(kind: str) -> dict:
    found = [d for docs in k8s_documents().values() for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## )", text)
    assert match, f"README has no '## {title}' section"
    return match.group(1)
