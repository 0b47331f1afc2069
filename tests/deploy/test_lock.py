"""requirements.lock: the image's complete, pinned and hashed dependency set (issue 19, part 6).

Offline: the pins are checked against pyproject.toml's ranges, and the lock's closure against
the dependency metadata of the installed distributions of the same versions.
"""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.helpers import REPO, pyproject

IMAGE_ENV = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
             "python_version": "3.11", "implementation_name": "cpython", "platform_machine": "x86_64",
             "platform_python_implementation": "CPython", "python_full_version": "3.11.9"}


def locked() -> dict[str, tuple[Version, list[str]]]:
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    entries: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.replace("\\\n", " ")):
        line = block.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        name, _, version = words[0].partition("==")
        assert version, f"not pinned with ==: {words[0]}"
        hashes = [w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash=")]
        assert len(hashes) == len(words) - 1, f"{name}: only --hash options may follow the pin"
        entries[canonicalize_name(name)] = (Version(version), hashes)
    return entries


def image_requirements() -> list[Requirement]:
    build_in = (REPO / "deploy" / "image-build.in").read_text(encoding="utf-8")
    return [Requirement(r) for r in pyproject()["project"]["dependencies"]] + [
        Requirement(line) for line in build_in.splitlines() if line.strip() and not line.startswith("#")
    ]


def test_every_package_is_pinned_with_sha256_hashes() -> None:
    entries = locked()
    assert len(entries) > 20
    for name, (_, hashes) in entries.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    text = (REPO / "requirements.lock").read_text(encoding="utf-8")
    assert "deploy/lock" in text.splitlines()[1], "the header names the command that regenerates it"
    for forbidden in ("--index-url", "--extra-index-url", "--find-links", "file:", "-e "):
        assert forbidden not in text


def test_pins_satisfy_pyproject_and_the_build_backend() -> None:
    entries = locked()
    build_system = [Requirement(r) for r in pyproject()["build-system"]["requires"]]
    for req in image_requirements() + build_system:
        if req.marker is not None and not req.marker.evaluate(IMAGE_ENV):
            continue
        name = canonicalize_name(req.name)
        assert name in entries, f"{req} is missing from requirements.lock (run deploy/lock)"
        assert req.specifier.contains(entries[name][0], prereleases=True), f"{name}=={entries[name][0]} vs {req}"
    assert "psycopg-binary" in entries  # psycopg[binary]


def test_the_lock_is_closed_under_dependencies() -> None:
    """Each locked package's own requirements are locked too (checked where the installed
    distribution has the locked version, as it has after `pip install -r requirements.lock`)."""
    entries = locked()
    queue = [(canonicalize_name(r.name), frozenset(r.extras)) for r in image_requirements()]
    seen: set[tuple[str, frozenset[str]]] = set()
    checked = 0
    while queue:
        name, extras = queue.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if canonicalize_name(dist.metadata["Name"]) != name or Version(dist.version) != entries[name][0]:
            continue
        checked += 1
        for raw in dist.requires or []:
            req = Requirement(raw)
            envs = [{**IMAGE_ENV, "extra": e} for e in sorted(extras) or [""]]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            dep = canonicalize_name(req.name)
            assert dep in entries, f"{name} needs {req}, which requirements.lock lacks"
            assert req.specifier.contains(entries[dep][0], prereleases=True), f"{name} needs {req}"
            queue.append((dep, frozenset(req.extras)))
    if checked == 0:  # the venv resolved newer releases than the lock: nothing to compare
        pytest.skip("no package here has its locked version; run deploy/lock to refresh the lock")
