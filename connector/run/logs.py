"""Logging: readable lines for a person at a terminal, one JSON object per line for a log shipper.

A container's stderr is not a TTY, so `format = "auto"` gives JSON there and Rich text in a
shell. Extra context goes in `extra={...}` and lands as top-level JSON keys.
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
    if wants_json(fmt, stream):
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
    setattr(handler, "_connector_handler", True)  # noqa: B010 - marks the handler this module owns
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that log every request would drown the run's own lines.
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler.executors.default", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
