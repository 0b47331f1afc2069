"""Where push's passes over the mirrored rewards left off: a change-clock tick per pass.

Why: a sync where nothing changed read every mirrored reward twice, in the status read-back and in
the search for rewards no entry records (at L, 790,314 rewards: 4.3 s and 0.9 s of the run's 5–9 s).
The pull stamps a reward with the change clock's current tick when it is inserted or its content
changes (`connector.store.writes.upsert_rows`, the same clock incremental compute reads), so a pass
that remembers the tick it read up to needs only the rewards stamped since.

A pass reads the clock's tick T in its own transaction and, when it commits, remembers T. Next time
it reads the rewards stamped T or later (not only later: the clock moves only when a compute takes
its tick, so a pull after this pass may still stamp T), and those never stamped (NULL: written some
other way). The clock only grows, except when its row goes missing: compute then restarts it at a
low tick and forgets every mark here (`connector.rules.reads.changes.advance_clock`); a pass that
finds the clock missing, or its mark above the clock, reads everything and remembers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from connector.store.models import ChangeClock, PlatformReward, PushMark

MARKERS = "markers"  # the marker index of the mirrored rewards (`adapters.partnerstack.rewards`)


def readback(program: str) -> str:
    """The mark of one program's status read-back (`connector.push.status`)."""
    return f"readback:{program}"


@dataclass(frozen=True)
class Pass:
    """One pass over the mirrored rewards: `since` the first tick it must read (None: all of them),
    `tick` the clock's tick now, which it remembers when it is done (None: the clock is missing)."""

    name: str
    since: int | None
    tick: int | None

    @property
    def store_wide(self) -> bool:
        return self.since is None


def begin(session: Session, name: str, *, store_wide: bool = False) -> Pass:
    """Start the pass `name` in the caller's transaction: store-wide when asked (`--full`, a backfill),
    on its first run, after the clock went missing or back; else from its mark."""
    tick = session.scalar(select(ChangeClock.seq).where(ChangeClock.id == 1))
    mark = None if store_wide or tick is None else session.scalar(select(PushMark.mark).where(PushMark.name == name))
    if mark is not None and tick is not None and mark > tick:
        mark = None
    return Pass(name, mark, tick)


def stamped_since(run: Pass) -> tuple[ColumnElement[bool], ...]:
    """The mirrored rewards the pass must read, each condition read on its own (each by the
    `changed_seq` index): stamped at or after its mark, never stamped. None for a store-wide pass."""
    if run.since is None:
        return ()
    return (PlatformReward.changed_seq >= run.since, PlatformReward.changed_seq.is_(None))


def done(session: Session, run: Pass) -> None:
    """Remember where the pass read up to, in the transaction that wrote what it read."""
    if run.tick is None:
        session.execute(delete(PushMark).where(PushMark.name == run.name))
        return
    moved = session.execute(update(PushMark).where(PushMark.name == run.name).values(mark=run.tick))
    if not getattr(moved, "rowcount", 0):
        session.add(PushMark(name=run.name, mark=run.tick))
        session.flush()
