"""Closing a month: its roll-forward frozen, its rendering kept, later rows booked after it.

Why: finance reports a month once; a refund that arrives in December for an October invoice must
not change the October report already sent, it is booked in the first open month and names October
(`connector.ledger.history.placed`). Closing stores the month's JSON rendering and its SHA-256; the
roll-forward of a closed month reads only rows no later run can add to, so rendering it again gives
the same bytes, which `verify_closed` (and `connector check`) confirms.

Closing month M closes every month up to M (a month cannot be reopened, and a closed month is never
followed by an open one, so "the first open month" is always the one after the last closed). The
caller holds the run lock: a run in flight could book into the month as it closes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.ledger.history import closed_through, next_month
from connector.report.period import month_period
from connector.report.periodfmt import render_period_json
from connector.report.rollforward import RollForward, roll_forward
from connector.store.models import EntryStatusMove, PeriodClose, Run


class CloseRefused(ValueError):
    """The month cannot be closed (not over yet for the books, or it does not tie out)."""


@dataclass(frozen=True)
class Closed:
    period: str
    digest: str
    roll_forward: RollForward


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def close_month(session: Session, program: str, month: str) -> list[Closed]:
    """Close every open month of `program` up to `month`, in the caller's transaction; what it closed
    (empty: already closed). `CloseRefused` when a run has not yet synced past the month's end or a
    month's roll-forward does not tie out."""
    target = month_period(month)
    already = closed_through(session, program)
    if already is not None and already >= month:
        return []
    synced = session.scalar(select(func.max(Run.as_of)).where(Run.program == program, Run.status == "succeeded"))
    if synced is None or synced < target.end:
        seen = synced.isoformat() if synced else "no successful run yet"
        raise CloseRefused(f"cannot close {month}: the books are synced only to {seen}; run a sync as of "
                           f"{target.end.date().isoformat()} or later first")  # fmt: skip
    first = next_month(already) if already is not None else _first_month(session, program) or month
    closed: list[Closed] = []
    now = dt.datetime.now(dt.UTC)
    current = min(first, month)
    while current <= month:
        rf = roll_forward(session, program, month_period(current))
        if not rf.ties:
            raise CloseRefused(f"cannot close {current}: its roll-forward does not tie out (see the period report)")
        rf.closed = True
        text = render_period_json(rf)
        session.add(PeriodClose(program=program, period=current, closed_at=now, digest=digest_of(text),
                                rendering=text))  # fmt: skip
        closed.append(Closed(current, digest_of(text), rf))
        current = next_month(current)
    session.flush()
    return closed


def _first_month(session: Session, program: str) -> str | None:
    return session.scalar(select(func.min(EntryStatusMove.period)).where(EntryStatusMove.program == program))


def stored_rendering(session: Session, program: str, month: str) -> str | None:
    """The JSON rendering kept when `month` was closed (None: not closed)."""
    return session.scalar(
        select(PeriodClose.rendering).where(PeriodClose.program == program, PeriodClose.period == month)
    )


def verify_closed(session: Session, program: str) -> list[tuple[str, bool]]:
    """Each closed month and whether its rendering from the history today is the one kept."""
    out = []
    closes = select(PeriodClose).where(PeriodClose.program == program).order_by(PeriodClose.period)
    for close in session.scalars(closes):
        again = render_period_json(roll_forward(session, program, month_period(close.period)))
        out.append((close.period, digest_of(again) == close.digest))
    return out
