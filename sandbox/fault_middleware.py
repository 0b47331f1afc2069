"""ASGI middleware that counts API requests and injects the planned faults.

Why: faults must look like the network and the upstream misbehaving, not like handler bugs, and must
never hit the ``/_sandbox`` admin routes that tests use to steer the sandbox. Order matters for
``POST /rewards``: 429/5xx are answered *before* the handler runs (nothing recorded), while ``drop`` and
``truncate`` run the handler first (the reward *is* recorded) and then spoil the answer, which is the
"sent but no answer" case a client must resolve by asking the platform what landed.
``commit-then-drop`` applies to POSTs only: the handler runs, then only the status line goes out and
the connection closes, so not one byte of the answer reaches the client.

``drop`` sends the status line, headers and half the body, then ends the response without completing
it; the server closes the connection, so an HTTP client sees a protocol/read error. ``truncate`` sends a
consistent response whose body is the first half of the JSON (``Content-Length`` matches), so the
client sees invalid JSON rather than a transport error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import STRIPE_API_VERSION
from .faults import Fault
from .jsonutil import dumps_bytes
from .state import State

ADMIN_PREFIX = "/_sandbox"
DROP_LOG_MESSAGE = "ASGI callable returned without completing response."


class _QuietDrops(logging.Filter):
    """Hide uvicorn's complaint about the responses we leave incomplete on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return DROP_LOG_MESSAGE not in record.getMessage()


def install_log_filter() -> None:
    """Attach the filter once to uvicorn's error logger."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def _error_body(path: str, status: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    if path.startswith("/stripe"):
        kind = "invalid_request_error" if status == 429 else "api_error"
        message = ("Too many requests hit the API too quickly." if status == 429
                   else "An unknown error occurred. (sandbox-injected fault)")
        error: dict[str, Any] = {"message": message, "type": kind}
        if status == 429:
            error["code"] = "rate_limit"
        headers = [(b"stripe-version", STRIPE_API_VERSION.encode())]
        return dumps_bytes({"error": error}), headers
    message = "Too Many Requests" if status == 429 else "Internal Server Error (sandbox-injected fault)"
    return dumps_bytes({"message": message, "status": status}), []


class FaultMiddleware:
    """Wraps the Starlette app; see the module docstring."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        with self.state.lock:
            self.state.request_seq += 1
            self.state.stats["total"] += 1
            self.state.stats[path] += 1
            plan = self.state.fault_plan
            gone = path in self.state.not_found
            unusable = path in self.state.unusable
        if gone:
            await self._not_found(path, send)
            return
        if unusable:
            await self._unusable(send)
            return
        fault = plan.next() if plan is not None else None
        if fault is not None and fault.kind == "commit-then-drop" and scope.get("method") != "POST":
            fault = None
        if fault is None:
            await self.app(scope, receive, send)
            return
        with self.state.lock:
            self.state.fault_stats[fault.kind] += 1
        if fault.kind in ("429", "5xx"):
            await self._error(path, fault, send)
        elif fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        else:
            await self._spoil(scope, receive, send, fault.kind)

    async def _not_found(self, path: str, send: Send) -> None:
        """Stripe's answer for an object that does not exist (``not_found`` paths)."""
        with self.state.lock:
            self.state.fault_stats["not_found"] += 1
        error = {"message": f"No such object: {path} (sandbox-injected)", "type": "invalid_request_error",
                 "code": "resource_missing"}
        body = dumps_bytes({"error": error})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"stripe-version", STRIPE_API_VERSION.encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _unusable(self, send: Send) -> None:
        """200 with a raw NUL byte inside a JSON string (``unusable`` paths): never parses."""
        with self.state.lock:
            self.state.fault_stats["unusable"] += 1
        body = b'{"object": "list", "data": [], "has_more": false, "url": "x\x00"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _error(self, path: str, fault: Fault, send: Send) -> None:
        body, headers = _error_body(path, fault.status)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
        if fault.status == 429:
            seconds = fault.seconds
            text = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
            headers.append((b"retry-after", text.encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _spoil(self, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        body = b"".join(chunks)
        half = b"" if kind == "commit-then-drop" else body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if kind == "truncate":
            headers.append((b"content-length", str(len(half)).encode()))
            await send({"type": "http.response.start", "status": start["status"], "headers": headers})
            await send({"type": "http.response.body", "body": half, "more_body": False})
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": half, "more_body": True})
        # Returning here leaves the response incomplete: the server closes the connection.
