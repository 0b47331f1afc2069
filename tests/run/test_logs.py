"""Logs: one JSON object per line when stderr is not a terminal, extras as top-level keys."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from connector.run.logs import setup_logging, wants_json


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_extra_fields() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "auto", stream=stream)  # StringIO is not a TTY: JSON
    logging.getLogger("connector.test").info("run started", extra={"run_id": "r1", "pulled": 3})
    logging.getLogger("connector.test").debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert (record["level"], record["logger"], record["msg"]) == ("info", "connector.test", "run started")
    assert (record["run_id"], record["pulled"]) == ("r1", 3)


def test_format_choice() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_json("auto", io.StringIO()) is True
    assert wants_json("auto", Tty()) is False
    assert wants_json("json", Tty()) is True
    assert wants_json("text", io.StringIO()) is False
