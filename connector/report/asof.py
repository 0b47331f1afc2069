"""A past run's report shows the ledger as it stood when that run ended, not as it is now.

Why: the ledger row holds only an entry's latest status, so an older run's report used to show
today's statuses (and entries booked since). The status history (`connector.ledger.history`) says
what each entry was then; an entry with no row by then had not been booked yet and is left out.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.ledger.entries import EntryRow
from connector.ledger.history import statuses_as_of_run
from connector.report.model import FindingRow
from connector.store.models import Run


def is_latest(session: Session, run: Run) -> bool:
    later = select(Run.id).where(Run.started_at > run.started_at).limit(1)
    return session.scalar(later) is None


def entries_as_of_run(session: Session, run: Run, entries: list[EntryRow]) -> list[EntryRow]:
    """`entries` (the ledger now) as they stood when `run` ended; the latest run's are the ledger now."""
    if is_latest(session, run):
        return entries
    then = statuses_as_of_run(session, run.program, run)
    out = []
    for e in entries:
        was = then.get(e.entry_key)
        if was is None:
            continue
        row = dataclasses.replace(e, status=was.status, reason=was.reason, platform_status=was.platform_status)
        if was.status != "pushed":  # pushed later: what the push recorded was not there yet
            row = dataclasses.replace(row, push_state=None, platform_reward_key=None, pushed_at=None,
                                      pushed_run_id=None)  # fmt: skip
        out.append(row)
    return out


def declined_then(entries: list[EntryRow], findings: list[FindingRow]) -> list[FindingRow]:
    """The push findings without a `reward_declined` whose entry was not declined as of the report's
    run (`entries` as they stood then): a past run's report shows only what had been declined by then."""
    declined = {e.entry_key for e in entries if e.platform_status == "declined"}
    return [f for f in findings if f.code != "reward_declined" or f.subject_key in declined]
