"""Property tests: the outcome (ledger per group, submission decisions) does not depend on the
page size, on the order records arrive in, or on where an earlier run was cut off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.run.runner import RunFailed, run_once
from connector.store.db import make_engine, upgrade
from connector.store.models import Decision, LedgerEntry
from sandbox.server import SandboxServer

from ..run.conftest import settings_values
from .conftest import SCENARIOS

SCENARIO = SCENARIOS / "consio.json"
AS_OF = dt.datetime(2026, 9, 30, tzinfo=dt.UTC)
Outcome = tuple[tuple[Any, ...], ...]


def scenario(order_seed: int | None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SCENARIO.read_text(encoding="utf-8"))
    if order_seed is not None:
        rng = random.Random(order_seed)
        for section in ("partnerstack", "stripe"):
            for records in doc.get(section, {}).values():
                rng.shuffle(records)
    return doc


def outcome(url: str) -> Outcome:
    """The ledger (per group, every amount and status) and every submission's decision."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.entry_key)).all()
            decisions = session.scalars(select(Decision).order_by(Decision.submission_key)).all()
            return (
                tuple((e.entry_key, e.group_key, e.kind, e.basis_minor, e.rate, e.amount_minor, e.currency,
                       e.status, e.reason) for e in entries),
                tuple((d.submission_key, d.partnership_key, d.customer_key, d.decision, d.reason) for d in decisions),
            )
    finally:
        engine.dispose()


def fresh_sqlite(tmp: Path) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp / 'p.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def run(doc: dict[str, Any], tmp: Path, *, ps_page: int, st_page: int, cut_after_pages: int | None) -> Outcome:
    url = fresh_sqlite(tmp)
    with SandboxServer(doc) as sandbox:
        values = settings_values(url, sandbox, partnerstack={"page_size": ps_page}, stripe={"page_size": st_page})
        if cut_after_pages is not None:
            cut = Settings(**settings_values(url, sandbox, partnerstack={"page_size": ps_page},
                                             stripe={"page_size": st_page},
                                             http={"max_pages_per_stream": cut_after_pages}))
            with contextlib.suppress(RunFailed):  # cut off mid-stream, as intended
                run_once(cut, as_of=AS_OF)
        run_once(Settings(**values), as_of=AS_OF)
    return outcome(url)


@cache
def reference(tmp: str) -> Outcome:
    return run(scenario(None), Path(tmp) / "reference", ps_page=250, st_page=100, cut_after_pages=None)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ps_page=st.integers(1, 250),
    st_page=st.integers(1, 100),
    order_seed=st.none() | st.integers(0, 10_000),
    cut_after_pages=st.none() | st.integers(1, 3),
)
def test_outcome_independent_of_paging_order_and_cuts(
    tmp_path_factory: Any, ps_page: int, st_page: int, order_seed: int | None, cut_after_pages: int | None
) -> None:
    expected = reference(str(tmp_path_factory.getbasetemp()))
    assert expected[0] and expected[1]
    tmp = tmp_path_factory.mktemp("case")
    assert run(scenario(order_seed), tmp, ps_page=ps_page, st_page=st_page, cut_after_pages=cut_after_pages) == expected
