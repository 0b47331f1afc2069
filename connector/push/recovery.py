"""After a crash: which entries left `sending` the platform already has.

Between marking a batch `sending` and recording the answers, a crash leaves the ledger unsure
whether each request landed. The platform is the truth, and it offers no idempotency: an entry
found there (by the destination's `find_pushed`, which reads the bodies' targets and markers) is
recorded without sending again; only one not found goes back to the outbox to be sent again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from connector.context import RunContext
from connector.push.destination import Destination, Held
from connector.push.pages import payable
from connector.push.results import Answer, Outgoing
from connector.rules.program import Program
from connector.store.models import LedgerEntry

# How far before an attempt a reward for it may be listed (clock skew between hosts; the sandbox
# stamps rewards with its scenario clock, which the run's as-of follows).
_RECOVERY_SLACK = dt.timedelta(days=1)


def lookup_since(ctx: RunContext, created: Sequence[dt.datetime]) -> dt.datetime:
    """The earliest creation time a reward sent from now on (or for entries `created`) may carry."""
    return min([*created, ctx.as_of, dt.datetime.now(dt.UTC)]) - _RECOVERY_SLACK


def find_landed(ctx: RunContext, destination: Destination, program: Program) -> list[Answer]:
    """Entries left `sending` that the platform has, each answered with the platform's key."""
    with ctx.sessions() as session:
        pending = list(session.scalars(
            select(LedgerEntry).where(*payable(program.name), LedgerEntry.push_state == "sending")
        ))  # fmt: skip
        if not pending:
            return []
        bodies = {
            e.entry_key: body
            for e, body in zip(pending, destination.bodies(session, pending, program), strict=True)
            if not isinstance(body, Held)
        }
        since = lookup_since(ctx, [e.created_at for e in pending])
        known = {e.entry_key: Outgoing(e.entry_key, e.partnership_key, e.currency, e.amount_minor, {})
                 for e in pending}  # fmt: skip
    return [
        Answer(known[key], platform_key=platform_key)
        for key, platform_key in destination.find_pushed(bodies, since).items()
    ]
