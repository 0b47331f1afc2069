"""What one run of the connector carries through its stages (pull, compute, push, report)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings

RunKind = Literal["sync", "backfill", "demo"]

# progress(stream, records_so_far, total_or_None): the CLI draws Rich bars with it.
ProgressHook = Callable[[str, int, int | None], None]


@dataclass
class RunContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    run_id: str
    kind: RunKind
    as_of: dt.datetime
    since: dt.datetime | None = None  # backfill window, half-open [since, until)
    until: dt.datetime | None = None
    progress: ProgressHook | None = None
    notes: list[str] = field(default_factory=list)  # shown in the run's report
    # Called before each reward request; raises when the run no longer holds the run lock
    # (`connector.run.fence`). None: no fence (a test's own context).
    fence: Callable[[], None] | None = None
    # `sync --full`: an operator edited the store, which no change tick shows; compute and push read
    # everything instead of what changed
    full: bool = False

    @property
    def is_backfill(self) -> bool:
        return self.kind == "backfill"
