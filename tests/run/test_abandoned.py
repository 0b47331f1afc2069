"""A run whose process stopped without recording its end is marked `abandoned` by the next run."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.run.runner import run_once
from connector.store.models import Run
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings


def test_next_run_marks_a_run_left_running_abandoned(
    database_url: str, engine: Engine, sandbox: SandboxServer
) -> None:
    with Session(engine) as session, session.begin():
        session.add(Run(id="killed-run", kind="sync", program="consio", as_of=AS_OF,
                        started_at=dt.datetime(2026, 6, 29, tzinfo=dt.UTC), status="running", notes=[]))
    outcome = run_once(make_settings(database_url, sandbox), as_of=AS_OF)
    with Session(engine) as session:
        killed = session.get(Run, "killed-run")
        assert killed is not None and killed.status == "abandoned"
        assert killed.error == (
            f"abandoned: its process stopped before the run finished (found by run {outcome.run_id})"
        )
        assert killed.finished_at is not None
        current = session.get(Run, outcome.run_id)
        assert current is not None and current.status == "succeeded"
