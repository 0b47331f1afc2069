"""Logging: readable lines for a person at a terminal, one JSON object per line for a log shipper.

A container's stderr is not a TTY, so `format = "auto"` gives JSON there and Rich text in a
shell. Extra context goes in `extra={...}` and lands as top-level JSON keys.

Every line logged while a run is going carries its `run_id` (`RunIdFilter`), also the lines of
libraries and worker threads. The id is process-wide, not a context variable: the pull and the
push work in thread pools, which do not inherit context variables, and the run lock already
allows one run per process at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted.
# (`color_message` is uvicorn's ANSI-coloured duplicate of `msg`.)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


_STATE: dict[str, Any] = {"run_id": None, "json": False}


def set_run_id(run_id: str | None) -> None:
    """The run every following line belongs to (None: between runs)."""
    _STATE["run_id"] = run_id


def json_mode() -> bool:
    """Whether `setup_logging` chose JSON lines (progress lines are written only then)."""
    return bool(_STATE["json"])


class RunIdFilter(logging.Filter):
    """Adds the current `run_id` to records that do not name one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        run_id = _STATE["run_id"]
        if run_id is not None and not hasattr(record, "run_id"):
            record.run_id = run_id
        return True


def wants_json(fmt: str, stream: TextIO) -> bool:
    if fmt == "json":
        return True
    if fmt == "text":
        return False
    return not (hasattr(stream, "isatty") and stream.isatty())


def setup_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure the root logger once per process; calling again replaces the handler."""
    stream = stream or sys.stderr
    handler: logging.Handler
    _STATE["json"] = wants_json(fmt, stream)
    if _STATE["json"]:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter())
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=stream), show_path=False, rich_tracebacks=False)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_connector_handler", False):
            root.removeHandler(old)
    handler.addFilter(RunIdFilter())
    setattr(handler, "_connector_handler", True)  # noqa: B010 - marks the handler this module owns
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that log every request would drown the run's own lines.
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler.executors.default", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
