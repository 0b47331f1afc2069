"""Admin routes under ``/_sandbox``: steer the sandbox from tests (never faulted, no auth).

Why: end-to-end tests change the upstream world between connector runs (``apply``), switch faults on
and off, and inspect what the connector pushed; doing it over HTTP lets a separately started
``connector sandbox`` process be driven the same way as an in-process ``SandboxServer``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .http_util import json_response
from .jsonutil import loads
from .state import State
from .timeutil import iso_from_ms


class AdminRoutes:
    """Route handlers bound to one ``State``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """Starlette routes, relative to ``/_sandbox``."""
        return [
            Route("/apply", self.apply, methods=["POST"]),
            Route("/faults", self.faults, methods=["POST"]),
            Route("/rewards", self.rewards, methods=["GET"]),
            Route("/stats", self.stats, methods=["GET"]),
            Route("/stats/reset", self.reset_stats, methods=["POST"]),
            Route("/state", self.info, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
        ]

    async def _json(self, request: Request) -> Any:
        raw = await request.body()
        return loads(raw) if raw else {}

    async def apply(self, request: Request) -> Response:
        """Merge a partial scenario; answers the new clock and what changed."""
        try:
            body = await self._json(request)
        except ValueError as exc:
            return json_response(400, {"error": f"invalid JSON: {exc}"})
        if not isinstance(body, dict):
            return json_response(400, {"error": "body must be a JSON object (a partial scenario)"})
        result = self.state.apply(body)
        return json_response(200, {**result, "now": iso_from_ms(result["now_ms"])})

    async def faults(self, request: Request) -> Response:
        """``{"spec": "429=0.2,seed=1" | null, "endless": [...], "repeat_cursor": [...], "not_found": [paths],
        "unusable": [paths]}``."""
        try:
            body = await self._json(request)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            spec = body.get("spec")
            if spec is not None and not isinstance(spec, str):
                raise ValueError("spec must be a string or null")
            self.state.set_faults(spec, _names(body.get("endless")), _names(body.get("repeat_cursor")),
                                  _names(body.get("not_found")), _names(body.get("unusable")))
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
        return await self.info(request)

    async def rewards(self, request: Request) -> Response:
        """Every reward pushed through ``POST /rewards``, in push order."""
        with self.state.lock:
            data = list(self.state.pushed_rewards)
        return json_response(200, {"data": data, "count": len(data)})

    async def stats(self, request: Request) -> Response:
        """Request counts per path (and ``total``), injected faults per kind, rate-limit 429s per API.

        ``requests`` counts every API request per API, ``rate_limited`` those answered 429 by the rate
        limits (``ratelimit.py``; faults are under ``faults``), ``rate_limited_share`` their ratio.
        """
        with self.state.lock:
            stats = dict(self.state.stats)
            faults = dict(self.state.fault_stats)
            requests = {api: self.state.api_requests[api] for api in ("stripe", "partnerstack")}
            limited = {api: self.state.rate_limited[api] for api in ("stripe", "partnerstack")}
        share = {api: (limited[api] / requests[api] if requests[api] else 0.0) for api in requests}
        return json_response(200, {"total": stats.pop("total", 0), "paths": stats, "faults": faults,
                                   "requests": requests, "rate_limited": limited, "rate_limited_share": share})

    async def reset_stats(self, request: Request) -> Response:
        """Zero the counters."""
        with self.state.lock:
            self.state.stats.clear()
            self.state.fault_stats.clear()
            self.state.api_requests.clear()
            self.state.rate_limited.clear()
        return await self.stats(request)

    async def info(self, request: Request) -> Response:
        """The clock and a summary of what is served."""
        with self.state.lock:
            plan = self.state.fault_plan
            payload = {
                "name": self.state.scenario.name,
                "now": iso_from_ms(self.state.now_ms),
                "now_ms": self.state.now_ms,
                "faults": plan.spec.text() if plan is not None else None,
                "event_api_version": self.state.event_api_version,
                "rate_limits": {"global_rps": self.state.rate_limits.global_rps,
                                "endpoint_rps": self.state.rate_limits.endpoint_rps},
                "endless": sorted(self.state.endless),
                "repeat_cursor": sorted(self.state.repeat_cursor),
                "not_found": sorted(self.state.not_found),
                "unusable": sorted(self.state.unusable),
                "counts": self.state.counts(),
                "pushed_rewards": len(self.state.pushed_rewards),
            }
        return json_response(200, payload)

    async def health(self, request: Request) -> Response:
        """Liveness for scripts waiting on a started sandbox."""
        return json_response(200, {"ok": True})


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("endless / repeat_cursor / not_found / unusable must be lists of names or paths")
    return value
