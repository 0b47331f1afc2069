"""Running the sandbox: in a background thread for tests (``SandboxServer``) or blocking (``serve``).

Why: tests need a real HTTP server on loopback (the connector's own HTTP clients, retries and
timeouts must be exercised) that starts in well under a second on a free port and stops cleanly.
The socket is bound here (port 0 = any free port) and handed to uvicorn, so the port is known before
the first request and there is no race with other processes.
"""

from __future__ import annotations

import gc
import logging
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .costs import write_costs_csv
from .fault_middleware import install_log_filter
from .faults import FaultSpec
from .ratelimit import RateLimits
from .scenario import Scenario, load_scenario
from .state import State

STARTUP_TIMEOUT_S = 10.0


def parse_partnerstack_keys(text: str | tuple[str, str] | None) -> tuple[str, str] | None:
    """``"PUBLIC:SECRET"`` as a pair; ``None`` stays ``None``. Raises ``ValueError`` when malformed."""
    if text is None or isinstance(text, tuple):
        return text
    public, sep, secret = text.partition(":")
    if not sep or not public or not secret:
        raise ValueError("--partnerstack-keys must be PUBLIC:SECRET")
    return public, secret


def _scenario(value: Scenario | str | Path | dict[str, Any]) -> Scenario:
    return value if isinstance(value, Scenario) else load_scenario(value)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response (headers and body are two writes) waits ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def _config(state: State, log_level: str) -> uvicorn.Config:
    install_log_filter()
    return uvicorn.Config(
        create_app(state),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )


class SandboxServer:
    """The sandbox in a background thread; use as a context manager.

    ``scenario`` may also be a ``State`` built beforehand (a world streamed in by ``sandbox.loader``).

    ``event_api_version`` is the version events are created in (default: the pinned current one;
    ``2024-06-20`` renders them pre-basil, ``versions.py``); ``rate_limit`` / ``rate_limit_endpoint`` are
    requests per second per API / per endpoint (``ratelimit.py``; default: no limits).
    ``legacy_field_data`` also serves PartnerStack's deprecated flat ``field_data`` beside ``fields``.

    ``.url`` is ``http://HOST:PORT``; ``.partnerstack_url`` and ``.stripe_url`` are the API bases;
    ``.state`` is the live in-memory state (pushed rewards, clock, collections).
    """

    def __init__(
        self,
        scenario: State | Scenario | str | Path | dict[str, Any],
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultSpec | str | None = None,
        stripe_key: str | None = None,
        partnerstack_keys: tuple[str, str] | str | None = None,
        log_level: str = "warning",
        event_api_version: str | None = None,
        rate_limit: float | None = None,
        rate_limit_endpoint: float | None = None,
        legacy_field_data: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        limits = RateLimits(rate_limit, rate_limit_endpoint)
        if isinstance(scenario, State):  # already loaded (``sandbox.loader``); keys and faults as given here
            if event_api_version is not None and event_api_version != scenario.event_api_version:
                raise ValueError("a loaded State's events already exist: pass event_api_version to State(...)")
            if legacy_field_data != scenario.legacy_field_data:
                raise ValueError("a loaded State's records are already packed: pass legacy_field_data to State(...)")
            self.state = scenario
            self.state.stripe_key = stripe_key
            self.state.partnerstack_keys = parse_partnerstack_keys(partnerstack_keys)
            self.state.set_faults(faults)
            if limits.enabled:
                self.state.set_rate_limits(limits)
        else:
            self.state = State(_scenario(scenario), stripe_key, parse_partnerstack_keys(partnerstack_keys), faults,
                               event_api_version, limits, legacy_field_data)
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def partnerstack_url(self) -> str:
        """PartnerStack API base (``.../partnerstack/api/v2``)."""
        return self.url + "/partnerstack/api/v2"

    @property
    def stripe_url(self) -> str:
        """Stripe API base (``.../stripe/v1``); the SDK's ``api_base`` is ``url + '/stripe'``."""
        return self.url + "/stripe/v1"

    def start(self) -> SandboxServer:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        self._socket = _bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        server = uvicorn.Server(_config(self.state, self._log_level))
        sock = self._socket
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="sandbox", daemon=True)
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def apply(self, partial: dict[str, Any] | str | bytes) -> dict[str, Any]:
        """Merge a partial scenario into the live state (see ``State.apply``)."""
        return self.state.apply(partial)

    def set_faults(self, spec: FaultSpec | str | None, endless: list[str] | None = None,
                   repeat_cursor: list[str] | None = None, not_found: list[str] | None = None,
                   unusable: list[str] | None = None) -> None:
        """Change (or clear) faults; the deterministic sequence restarts."""
        self.state.set_faults(spec, endless, repeat_cursor, not_found, unusable)

    @property
    def rewards(self) -> list[dict[str, Any]]:
        """Rewards pushed so far, in push order."""
        with self.state.lock:
            return list(self.state.pushed_rewards)


def serve(
    scenario_path: str | Path | Scenario | dict[str, Any],
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultSpec | str | None = None,
    stripe_key: str | None = None,
    partnerstack_keys: tuple[str, str] | str | None = None,
    costs_csv: str | Path | None = None,
    event_api_version: str | None = None,
    rate_limit: float | None = None,
    rate_limit_endpoint: float | None = None,
    legacy_field_data: bool = False,
) -> None:
    """Serve a scenario until interrupted (``connector sandbox``, ``python -m sandbox``)."""
    scenario = _scenario(scenario_path)
    limits = RateLimits(rate_limit, rate_limit_endpoint)
    if costs_csv is not None:
        write_costs_csv(scenario, costs_csv)
    state = State(scenario, stripe_key, parse_partnerstack_keys(partnerstack_keys), faults, event_api_version,
                  limits, legacy_field_data)
    for collection in [*state.partnerstack.values(), *state.stripe.values()]:
        collection.entries()  # sort and index now, not on the first request
    gc.freeze()  # a dedicated process: keep the loaded world out of every future GC pass
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{bound}"
    logging.getLogger("sandbox").info("serving %s", base)
    print(f"sandbox serving {scenario.name or 'scenario'} at {base}", file=sys.stderr)
    print(f"  PartnerStack: {base}/partnerstack/api/v2", file=sys.stderr)
    print(f"  Stripe:       {base}/stripe/v1", file=sys.stderr)
    if costs_csv is not None:
        print(f"  costs CSV:    {costs_csv}", file=sys.stderr)
    if limits.enabled:
        print(f"  rate limits:  {limits.global_rps} rps per API, {limits.endpoint_rps} rps per endpoint",
              file=sys.stderr)
    print(f"  events in:    Stripe API version {state.event_api_version}", file=sys.stderr)
    if legacy_field_data:
        print("  PartnerStack: deprecated field_data served beside fields", file=sys.stderr)
    uvicorn.Server(_config(state, "info")).run(sockets=[sock])
