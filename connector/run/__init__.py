"""Running the connector: the CLI, one run (lock, pull, compute, push), the schedule, the demo.

The names below are what a caller needs to run the connector once (`run_once`) and read
its outcome. They are imported on first use (PEP 562 `__getattr__`), not with the package:
the console script `connector.run.cli` lives in this package, and `connector --help` must not
pay for SQLAlchemy, pydantic and the sandbox. The scheduled service (`connector.run.scheduler`,
which brings uvicorn, Starlette and APScheduler) is imported by its module path only.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DatabaseUnavailable": "connector.run.runner",
    "DemoResult": "connector.run.demo",
    "LockHeld": "connector.run.lock",
    "RunFailed": "connector.run.runner",
    "RunLockHandle": "connector.run.lock",
    "RunOutcome": "connector.run.runner",
    "describe_database": "connector.run.runner",
    "open_engine": "connector.run.runner",
    "run_demo": "connector.run.demo",
    "run_lock": "connector.run.lock",
    "run_once": "connector.run.runner",
    "setup_logging": "connector.run.logs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
