"""What one compute leaves for the next: its mark, the per-customer recheck times, decisions, findings.

An incremental compute may skip a customer only if a full one would write nothing new for
it, so the state says exactly what the last compute saw: the change-clock tick (`mark`),
the as-of time, the digest of the program and of the rules' code (a change to either makes
every result suspect), and per customer key the earliest as-of time at which its entries
can change by time alone. All of it is written in the compute's own transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from connector.rules.kinds import RuleFinding
from connector.rules.program import Program
from connector.rules.reads.sql import IN_LIST, in_lists, padded
from connector.store.models import ComputeRecheck, ComputeState, Decision, Finding
from connector.store.writes import upsert_rows

NO_CUSTOMER = ""  # the recheck key of entries without a customer key (the column is part of the key)

# What a decision row says, compared to decide whether it changed.
DecisionKey = tuple[str, str | None, str | None, str, str | None, dt.datetime | None]


@functools.cache
def _code_digest() -> str:
    """The rules' own source: a deployment that changes how money is computed recomputes everything."""
    core = Path(__file__).resolve().parents[2]  # connector/
    files = sorted(core.glob("rules/**/*.py")) + sorted(core.glob("ledger/**/*.py")) + [core / "money.py"]
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(core).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def program_digest(program: Program, *inputs: str) -> str:
    """The program, the rules code and any other input of every customer's result (the FX rates' digest)."""
    h = hashlib.sha256(program.model_dump_json().encode())
    h.update(_code_digest().encode())
    for extra in inputs:
        h.update(f"|{extra}".encode())
    return h.hexdigest()


def load_state(session: Session, program: str) -> ComputeState | None:
    return session.get(ComputeState, program)


def save_state(
    session: Session, program: str, *, mark: int, as_of: dt.datetime, digest: str, recheck_at: dt.datetime | None,
    run_id: str,
) -> None:  # fmt: skip
    upsert_rows(session, ComputeState, [{
        "program": program, "mark": mark, "as_of": as_of, "digest": digest, "recheck_at": recheck_at,
        "run_id": run_id, "computed_at": dt.datetime.now(dt.UTC),
    }])  # fmt: skip


# ---------------------------------------------------------------- recheck times


def due_customers(session: Session, program: str, as_of: dt.datetime) -> set[str | None]:
    """The customer keys whose recheck time has come."""
    stmt = select(ComputeRecheck.customer_key).where(
        ComputeRecheck.program == program, ComputeRecheck.recheck_at <= as_of
    )
    return {_customer(k) for k in session.scalars(stmt)}


def replace_rechecks(
    session: Session, program: str, keys: Collection[str | None] | None, wake: Mapping[str | None, dt.datetime]
) -> None:
    """Set the recheck times of `keys` (all of the program's when None) to `wake` (absent: none)."""
    if keys is None:
        session.execute(delete(ComputeRecheck).where(ComputeRecheck.program == program))
    else:
        for chunk in in_lists(sorted(_stored(k) for k in keys)):
            session.execute(
                delete(ComputeRecheck).where(ComputeRecheck.program == program, ComputeRecheck.customer_key.in_(chunk))
            )
    rows = [{"program": program, "customer_key": _stored(k), "recheck_at": at} for k, at in wake.items()]
    if rows:
        session.execute(insert(ComputeRecheck), rows)


def _stored(key: str | None) -> str:
    return NO_CUSTOMER if key is None else key


def _customer(key: str) -> str | None:
    return None if key == NO_CUSTOMER else key


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True)
class DecisionChanges:
    """Submissions whose decision row changed (new, gone, or different), with their customer keys then and now."""

    keys: frozenset[str]
    customers: frozenset[str | None]
    partners: frozenset[str | None]


def _stored_of(session: Session, program: str, keys: list[str]) -> dict[str, DecisionKey]:
    """The stored decision rows of these submissions (an IN list of `in_lists`' size)."""
    stmt = select(
        Decision.submission_key, Decision.submission_type, Decision.partnership_key, Decision.customer_key,
        Decision.decision, Decision.reason, Decision.submitted_at,
    ).where(Decision.program == program, Decision.submission_key.in_(keys))  # fmt: skip
    return {row[0]: tuple(row[1:]) for row in session.execute(stmt)}  # type: ignore[misc]


def write_decisions(
    session: Session, program: str, rows: Iterable[dict[str, object]], *, track: bool = True, kept: Any = None
) -> DecisionChanges:
    """Make the program's decisions exactly `rows`: upsert the changed ones, delete the ones no submission
    has any more (so the table is what the last compute decided, the baseline of the next).

    A chunk of rows at a time against the stored rows of the same keys, never the whole table in
    memory (a dict of every stored decision was some 5 MB at M, and grows with the submissions);
    what is gone is found from the stored keys alone, streamed.

    `kept`, a select of every key in `rows` (a compute pass's temporary table), finds what is gone in
    the database instead of from a set of every key seen; without `track` (a full pass, which reads
    none of them) the changes are not collected: on a first pass every decision is one.
    """
    seen: set[str] = set()
    changes = _Changed()
    for chunk in _chunks(rows, IN_LIST):
        keys = [str(row["submission_key"]) for row in chunk]
        stored = _stored_of(session, program, padded(keys))
        changed = []
        for key, row in zip(keys, chunk, strict=True):
            if kept is None:
                seen.add(key)
            now = _decision_key(row)
            before = stored.get(key)
            if before != now:
                changed.append(row)
                if track:
                    changes.add(key, now, before)
        upsert_rows(session, Decision, changed)
    stmt = select(Decision.submission_key).where(Decision.program == program)
    if kept is None:
        gone = sorted(k for k in session.scalars(stmt.execution_options(yield_per=IN_LIST)) if k not in seen)
    else:
        gone = sorted(session.scalars(stmt.where(Decision.submission_key.not_in(kept))))
    for chunk_keys in in_lists(gone):
        if track:
            for key, before in _stored_of(session, program, chunk_keys).items():
                changes.add(key, None, before)
        session.execute(delete(Decision).where(Decision.program == program, Decision.submission_key.in_(chunk_keys)))
    return DecisionChanges(frozenset(changes.keys), frozenset(changes.customers), frozenset(changes.partners))


@dataclass
class _Changed:
    """The keys of changed decision rows and the customers and partners they named, before and after."""

    keys: set[str] = field(default_factory=set)
    customers: set[str | None] = field(default_factory=set)
    partners: set[str | None] = field(default_factory=set)

    def add(self, key: str, now: DecisionKey | None, before: DecisionKey | None) -> None:
        self.keys.add(key)
        for row in (now, before):
            if row is not None:
                self.customers.add(row[2])
                self.partners.add(row[1])


def _chunks(rows: Iterable[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    chunk: list[dict[str, object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _decision_key(row: Mapping[str, object]) -> DecisionKey:
    return (
        row["submission_type"], row["partner_key"], row["customer_key"], row["decision"], row["reason"],
        row["submitted_at"],
    )  # type: ignore[return-value]  # fmt: skip


def decision_counts(session: Session, program: str) -> tuple[dict[str, int], dict[str, int]]:
    """(count by decision, count of rejections by reason), as the compute that wrote them reported."""
    by_decision = dict(
        session.execute(
            select(Decision.decision, func.count()).where(Decision.program == program).group_by(Decision.decision)
        ).all()
    )
    rejected = dict(
        session.execute(
            select(Decision.reason, func.count())
            .where(Decision.program == program, Decision.decision == "rejected", Decision.reason.is_not(None))
            .group_by(Decision.reason)
        ).all()
    )
    return by_decision, rejected  # type: ignore[return-value]


# ---------------------------------------------------------------- findings


def previous_findings(session: Session, program: str, run_id: str) -> list[RuleFinding]:
    """The findings the last compute wrote: current for every customer this one does not recompute."""
    stmt = select(Finding.subject_key, Finding.code, Finding.detail).where(
        Finding.run_id == run_id, Finding.program == program
    )
    return [RuleFinding(subject or "", code, detail or "") for subject, code, detail in session.execute(stmt)]
