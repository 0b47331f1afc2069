"""Every status an entry has had, append-only (`entry_status_history`), and the statuses as they were.

Why: an entry's row holds only its status now, so a past run's or a past month's report would show
today's statuses, and nothing could say when a reward was pushed, approved or paid. Each booking
and each move (a gate holding or releasing, scheduled becoming payable, a reversal pair, the push,
the platform's reward status read back) appends one row with the run, the run's as-of (`at`) and
the wall clock; the entry's latest row is its current status.

Each row also carries the month it counts in for the roll-forward (`period`): the entry's event
month for its booking, the month of `at` for a move; a month already closed (`period_closes`) takes
nothing more, so such a row counts in the first open month and names the closed one (`corrects`).
That makes a closed month's figures a function of rows no later run can add to.

Readers: `statuses_as_of_run` (a past run's report), `rows_through` (a period's roll-forward), and
`moves_of` (everything recorded, e.g. when each entry reached the platform status `paid`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, cast, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from connector.rules.reads.sql import in_lists
from connector.store.models import EntryStatusMove, LedgerEntry, PeriodClose, Run
from connector.store.planner import note_rows_written

__all__ = [
    "Move",
    "Stamp",
    "StatusAt",
    "closed_through",
    "month_of",
    "note_closed_corrections",
    "moves_of",
    "next_month",
    "placed",
    "record_booked",
    "record_moves",
    "record_selected_moves",
    "rows_through",
    "statuses_as_of_run",
]


@dataclass(frozen=True)
class Stamp:
    """When and by which run a row is recorded: `at` the run's as-of, `recorded_at` the wall clock."""

    run_id: str | None
    at: dt.datetime
    recorded_at: dt.datetime

    @classmethod
    def of(cls, run_id: str | None, at: dt.datetime | None = None) -> Stamp:
        now = dt.datetime.now(dt.UTC)
        return cls(run_id, at or now, now)


@dataclass(frozen=True)
class StatusAt:
    """An entry's status as a row of the history recorded it."""

    status: str
    reason: str | None
    platform_status: str | None


@dataclass(frozen=True)
class Move:
    """One row of the history, as read back."""

    id: int
    entry_key: str
    status: str
    reason: str | None
    platform_status: str | None
    cause: str
    run_id: str | None
    at: dt.datetime
    period: str
    corrects: str | None


# ---------------------------------------------------------------- months


def month_of(when: dt.datetime) -> str:
    """The month (YYYY-MM, UTC) a time falls in."""
    return when.astimezone(dt.UTC).strftime("%Y-%m")


def next_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def closed_through(session: Session, program: str) -> str | None:
    """The latest closed month of the program (every month up to it is closed), None when none is."""
    return session.scalar(select(func.max(PeriodClose.period)).where(PeriodClose.program == program))


def placed(month: str, closed: str | None) -> tuple[str, str | None]:
    """(the month a row counts in, the closed month it corrects): a closed month takes no new rows."""
    if closed is None or month > closed:
        return month, None
    return next_month(closed), month


# ---------------------------------------------------------------- writes


def record_booked(session: Session, entries: Sequence[LedgerEntry], stamp: Stamp) -> None:
    """The booking row of each new entry (in the caller's transaction), counted in its event's month."""
    if not entries:
        return
    closed: dict[str, str | None] = {}
    rows = []
    for e in entries:
        if e.program not in closed:
            closed[e.program] = closed_through(session, e.program)
        period, corrects = placed(month_of(e.event_at or stamp.at), closed[e.program])
        rows.append(_row(e.entry_key, e.program, StatusAt(e.status, e.reason, e.platform_status), "booked", stamp,
                         period, corrects))  # fmt: skip
    session.execute(insert(EntryStatusMove), rows)
    note_rows_written(session, EntryStatusMove.__table__, len(rows))


def note_closed_corrections(session: Session, entries: Sequence[LedgerEntry], stamp: Stamp) -> None:
    """Before new entries are inserted: one whose event falls in a closed month says in its note
    which month it is booked in and which closed month it corrects (the note is its explanation in
    every report format)."""
    closed: dict[str, str | None] = {}
    for e in entries:
        if e.program not in closed:
            closed[e.program] = closed_through(session, e.program)
        period, corrects = placed(month_of(e.event_at or stamp.at), closed[e.program])
        if corrects is not None:
            e.note = f"{e.note + '; ' if e.note else ''}booked in {period}: corrects closed {corrects}"


def record_moves(session: Session, moved: Iterable[tuple[str, str, StatusAt]], stamp: Stamp, cause: str) -> int:
    """A row for each (entry key, program, status it moved to), in the caller's transaction; how many."""
    closed: dict[str, str | None] = {}
    rows = []
    for key, program, status in moved:
        if program not in closed:
            closed[program] = closed_through(session, program)
        period, corrects = placed(month_of(stamp.at), closed[program])
        rows.append(_row(key, program, status, cause, stamp, period, corrects))
    if rows:
        session.execute(insert(EntryStatusMove), rows)
        note_rows_written(session, EntryStatusMove.__table__, len(rows))
    return len(rows)


def record_selected_moves(
    session: Session, moved: Select[*tuple[Any, ...]], program: str, stamp: Stamp, cause: str
) -> int:
    """`record_moves` for the entries `moved` selects as (entry key, status, reason, platform status), all
    of `program`: one INSERT … SELECT, so however many entries moved, none is held in memory (the
    first sync after a backfill reads back every reward it pushed: 80,000 rows at M were 190 MB as
    Python rows), and no read is left open while the transaction writes (SQLite cannot take the write
    lock for a connection whose open read began before another connection's commit)."""
    period, corrects = placed(month_of(stamp.at), closed_through(session, program))
    table = EntryStatusMove.__table__
    texts = {"program": program, "cause": cause, "run_id": stamp.run_id, "period": period, "corrects": corrects}
    times = {"at": stamp.at, "recorded_at": stamp.recorded_at}
    rows = moved.subquery()
    source = select(
        *rows.c,
        *(cast(literal(value), table.c[name].type).label(name) for name, value in texts.items()),
        *(literal(value, table.c[name].type).label(name) for name, value in times.items()),
    )
    columns = ["entry_key", "status", "reason", "platform_status", *texts, *times]
    done = session.execute(insert(EntryStatusMove).from_select(columns, source))
    written = int(getattr(done, "rowcount", 0) or 0)
    note_rows_written(session, EntryStatusMove.__table__, written)
    return written


def record_current(session: Session, entry_keys: Sequence[str], stamp: Stamp, cause: str) -> int:
    """A row for each of these entries holding its status as stored now (after the caller moved it)."""
    moved: list[tuple[str, str, StatusAt]] = []
    for chunk in in_lists(sorted(entry_keys)):
        stmt = select(LedgerEntry.entry_key, LedgerEntry.program, LedgerEntry.status, LedgerEntry.reason,
                      LedgerEntry.platform_status).where(LedgerEntry.entry_key.in_(chunk))  # fmt: skip
        moved.extend((k, p, StatusAt(s, r, ps)) for k, p, s, r, ps in session.execute(stmt))
    return record_moves(session, moved, stamp, cause)


def _row(key: str, program: str, status: StatusAt, cause: str, stamp: Stamp, period: str,
         corrects: str | None) -> dict[str, object]:  # fmt: skip
    return {
        "entry_key": key, "program": program, "status": status.status, "reason": status.reason,
        "platform_status": status.platform_status, "cause": cause, "run_id": stamp.run_id, "at": stamp.at,
        "recorded_at": stamp.recorded_at, "period": period, "corrects": corrects,
    }  # fmt: skip


# ---------------------------------------------------------------- reads


def moves_of(session: Session, program: str, entry_keys: Sequence[str] | None = None) -> list[Move]:
    """The program's history in the order it was recorded (of these entries only, if given)."""
    stmt = select(*_MOVE_COLUMNS).where(EntryStatusMove.program == program).order_by(EntryStatusMove.id)
    if entry_keys is None:
        return [Move(*tuple(row)) for row in session.execute(stmt)]
    out: list[Move] = []
    for chunk in in_lists(sorted(entry_keys)):
        out.extend(Move(*tuple(row)) for row in session.execute(stmt.where(EntryStatusMove.entry_key.in_(chunk))))
    return sorted(out, key=lambda m: m.id)


def rows_through(session: Session, program: str, period: str) -> list[Move]:
    """Every row of the program that counts in `period` or before, in the order recorded."""
    stmt = (
        select(*_MOVE_COLUMNS)
        .where(EntryStatusMove.program == program, EntryStatusMove.period <= period)
        .order_by(EntryStatusMove.id)
    )
    return [Move(*tuple(row)) for row in session.execute(stmt)]


def statuses_as_of_run(session: Session, program: str | None, run: Run) -> dict[str, StatusAt]:
    """Each entry's status as it stood when `run` ended: its latest row recorded by that run or an
    earlier one (by start), or without a run before the run ended. An entry missing was not booked yet."""
    cutoff = run.finished_at or dt.datetime.now(dt.UTC)
    stmt = (
        select(EntryStatusMove.entry_key, EntryStatusMove.status, EntryStatusMove.reason,
               EntryStatusMove.platform_status)
        .outerjoin(Run, Run.id == EntryStatusMove.run_id)
        .where(or_(Run.started_at <= run.started_at,
                   (Run.id.is_(None)) & (EntryStatusMove.recorded_at <= cutoff)))
        .order_by(EntryStatusMove.id)
    )  # fmt: skip
    if program is not None:
        stmt = stmt.where(EntryStatusMove.program == program)
    return {key: StatusAt(status, reason, platform) for key, status, reason, platform in session.execute(stmt)}


_MOVE_COLUMNS = (
    EntryStatusMove.id, EntryStatusMove.entry_key, EntryStatusMove.status, EntryStatusMove.reason,
    EntryStatusMove.platform_status, EntryStatusMove.cause, EntryStatusMove.run_id, EntryStatusMove.at,
    EntryStatusMove.period, EntryStatusMove.corrects,
)  # fmt: skip
