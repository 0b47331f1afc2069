"""Fixtures for the sandbox tests: the generated world and running sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_testkit import build_world

from sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """The generated scenario document."""
    return build_world()


@pytest.fixture(scope="module")
def server(world: dict[str, Any]) -> Iterator[SandboxServer]:
    """A sandbox serving ``world`` for the whole module (tests here only read it)."""
    with SandboxServer(world) as srv:
        yield srv


@pytest.fixture()
def fresh_server(world: dict[str, Any]) -> Iterator[SandboxServer]:
    """A sandbox for one test that changes state."""
    with SandboxServer(world) as srv:
        yield srv
