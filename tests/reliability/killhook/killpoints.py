"""Test-only crash points: SIGKILL this process at the Nth database commit or HTTP request.

Why: "kill -9 anywhere" must be deterministic and fast. Every database commit (just before
and just after) and every HTTP request (just before sending, just after the answer) is a
numbered crash point; `install(kill_at=N)` makes the process SIGKILL itself at the Nth, so
no cleanup code runs, exactly like `kill -9` from outside.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

_lock = threading.Lock()
passed = [0]
_kill_at = [0]


def arm(kill_at: int) -> None:
    """Kill at the `kill_at`th crash point counted since `install` (0: disarm)."""
    _kill_at[0] = kill_at


def install(kill_at: int) -> None:
    """Count crash points from now on; kill at the `kill_at`th (0: only count, until `arm`)."""
    arm(kill_at)

    def point(*_args: Any, **_kwargs: Any) -> None:
        with _lock:
            passed[0] += 1
            reached = passed[0]
        if _kill_at[0] and reached >= _kill_at[0]:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "commit", point)
    event.listen(Session, "after_commit", point)
    real_send = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        point()
        response = real_send(self, request, **kwargs)
        point()
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
