"""After a crash: which entries left `sending` the platform already has.

Between marking a batch `sending` and recording the answers, a crash leaves the ledger unsure
whether each request landed. The platform is the truth: an entry found there is recorded
without sending again; one not found is offered again with the same idempotency key (which
also covers a platform that did create it but is slow to list it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from connector.context import RunContext
from connector.push.destination import Destination
from connector.push.pages import payable
from connector.push.results import Answer, Outgoing
from connector.store.models import LedgerEntry

# How far before an entry's creation a reward for it may be listed (clock skew between hosts).
_RECOVERY_SLACK = dt.timedelta(days=1)


def find_landed(ctx: RunContext, destination: Destination, program: str) -> list[Answer]:
    """Entries left `sending` that the platform has, each answered with the platform's key."""
    with ctx.sessions() as session:
        pending = session.execute(
            select(
                LedgerEntry.entry_key, LedgerEntry.created_at, LedgerEntry.partnership_key,
                LedgerEntry.currency, LedgerEntry.amount_minor,
            ).where(*payable(program), LedgerEntry.push_state == "sending")
        ).all()  # fmt: skip
    if not pending:
        return []
    # The platform stamps rewards with its own clock; the run's as-of bounds it from below too.
    since = min([row.created_at for row in pending] + [ctx.as_of]) - _RECOVERY_SLACK
    wanted = {row.entry_key: row for row in pending}
    answers = []
    for key, platform_key in destination.find_pushed(wanted.keys(), since).items():
        row = wanted[key]
        known = Outgoing(key, row.partnership_key, row.currency, row.amount_minor, {})
        answers.append(Answer(known, platform_key=platform_key))
    return answers
