"""Local emulation of the PartnerStack vendor API v2 and the Stripe API, served from memory.

Why: the connector's adapters, mappings, rules and push must run end to end against something that
behaves like the real services (shapes, paging, auth, errors, faults) without network or accounts.
Public entry points: ``sandbox.scenario.load_scenario``, ``sandbox.server.SandboxServer``,
``sandbox.server.serve``, ``sandbox.faults.FaultSpec``, ``sandbox.app.create_app``,
``sandbox.costs.write_costs_csv`` and ``sandbox.cli_entry``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The Stripe API version whose object shapes the sandbox serves (the installed stripe SDK's pin).
STRIPE_API_VERSION = "2026-10-28.endive"
# Oldest version the sandbox agrees to serve: objects are in the basil (2025-03-31) or later shape.
STRIPE_MIN_API_VERSION = "2025-03-31"


def cli_entry(
    scenario: str | Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: str | None = None,
    stripe_key: str | None = None,
    partnerstack_keys: str | None = None,
    costs_csv: str | Path | None = None,
    event_api_version: str | None = None,
    rate_limit: float | None = None,
    rate_limit_endpoint: float | None = None,
    legacy_field_data: bool = False,
) -> None:
    """What ``connector sandbox`` (and ``python -m sandbox``) runs: serve ``scenario`` until interrupted.

    ``partnerstack_keys`` is ``"PUBLIC:SECRET"`` as typed on the command line; ``event_api_version``
    is the Stripe version events are rendered in (``2024-06-20`` = pre-basil); ``rate_limit`` and
    ``rate_limit_endpoint`` are requests per second per API and per endpoint (off when ``None``);
    ``legacy_field_data`` serves PartnerStack's deprecated flat ``field_data`` beside ``fields``.
    """
    from .server import parse_partnerstack_keys, serve

    keys: Any = parse_partnerstack_keys(partnerstack_keys)
    serve(scenario, host, port, faults, stripe_key, keys, costs_csv, event_api_version, rate_limit,
          rate_limit_endpoint, legacy_field_data)
