"""What one run (`--changes`) or every run after one (`--since-run ID`) changed in the ledger.

Why: the run report shows the whole ledger, so a sync that booked nothing still shows the lifetime
totals; finance asking "what did last night's run do" wants only the rows that run appended to the
status history: entries booked (with their amounts, summed per currency) and statuses moved (from
what, to what).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.ledger.history import moves_of
from connector.money import format_money, iso_utc
from connector.report.rollforward import Fixed, fixed_of
from connector.store.models import EntryStatusMove, Run


@dataclass(frozen=True)
class Change:
    run_id: str | None
    at: str | None
    entry_key: str
    partner_key: str
    kind: str
    amount_minor: int
    currency: str
    cause: str  # booked | moved | pushed | platform
    before: str | None  # "status" or "status/platform status"; None for a booking
    after: str


@dataclass
class Changes:
    program: str
    runs: list[str]
    changes: list[Change]

    def booked_minor(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for c in self.changes:
            if c.cause == "booked":
                out[c.currency] += c.amount_minor
        return dict(sorted(out.items()))


def runs_after(session: Session, run_id: str) -> list[str]:
    """The runs started after `run_id` (LookupError if there is no such run), oldest first."""
    run = session.get(Run, run_id)
    if run is None:
        raise LookupError(f"no run with id {run_id}")
    later = select(Run.id).where(Run.started_at > run.started_at).order_by(Run.started_at, Run.id)
    return list(session.scalars(later))


def changes_of(session: Session, program: str, run_ids: list[str]) -> Changes:
    """Every history row these runs recorded, each with the entry's state before it."""
    keys = set(session.scalars(
        select(EntryStatusMove.entry_key).where(EntryStatusMove.program == program,
                                                EntryStatusMove.run_id.in_(run_ids or [""])).distinct()
    ))  # fmt: skip
    fixed = fixed_of(session, keys)
    wanted = set(run_ids)
    previous: dict[str, str] = {}
    out: list[Change] = []
    for m in moves_of(session, program, sorted(keys)):
        state = m.status if m.platform_status is None else f"{m.status}/{m.platform_status}"
        f: Fixed | None = fixed.get(m.entry_key)
        if m.run_id in wanted and f is not None and (m.cause == "booked" or previous.get(m.entry_key) != state):
            out.append(Change(m.run_id, iso_utc(m.at), m.entry_key, f.partner_key, f.kind, f.amount_minor,
                              f.currency, m.cause, previous.get(m.entry_key) if m.cause != "booked" else None,
                              state))  # fmt: skip
        previous[m.entry_key] = state
    return Changes(program, run_ids, out)


def changes_dict(c: Changes) -> dict[str, Any]:
    return {
        "program": c.program,
        "runs": c.runs,
        "booked_minor": c.booked_minor(),
        "changes": [{"run_id": x.run_id, "at": x.at, "entry_key": x.entry_key, "partner_key": x.partner_key,
                     "kind": x.kind, "amount_minor": x.amount_minor, "currency": x.currency, "cause": x.cause,
                     "before": x.before, "after": x.after} for x in c.changes],  # fmt: skip
    }


def render_changes_json(c: Changes) -> str:
    return json.dumps(changes_dict(c), indent=2, ensure_ascii=False) + "\n"


def render_changes_table(c: Changes) -> str:
    runs = ", ".join(c.runs) if c.runs else "none"
    out = [f"Changes · {c.program} · run(s) {runs}", ""]
    booked = c.booked_minor()
    out.append("booked: " + (", ".join(format_money(v, k) for k, v in booked.items()) if booked else "booked: nothing"))
    moved = sum(1 for x in c.changes if x.cause != "booked")
    out += [f"status moves: {moved}", ""]
    for x in c.changes:
        what = f"booked as {x.after}" if x.before is None else f"{x.before} → {x.after}"
        out.append(f"{x.at}  {x.entry_key}  {x.partner_key}  {x.kind}  {format_money(x.amount_minor, x.currency)}"
                   f"  {what}")  # fmt: skip
    if not c.changes:
        out.append("(this run changed nothing in the ledger)")
    return "\n".join(out) + "\n"
