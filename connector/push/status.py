"""The platform's word on what was pushed: each reward's status, read back onto its entry.

Why: `pushed` says only that the platform took the reward; finance needs to know whether it was
approved, declined or paid. The pull mirrors the platform's rewards (`ps_rewards`, with
`reward_status` and `payment_status`); this copies each one's status onto the entry that carries
its key, so the report can say so and show a declined reward as a finding.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from connector.context import RunContext
from connector.ledger.history import Stamp, record_selected_moves
from connector.store.models import LedgerEntry, PlatformReward


def read_back_status(ctx: RunContext, program: str) -> int:
    """Set `platform_status` on the program's pushed entries whose reward's status changed; how many.

    One UPDATE joined on the reward key (`UPDATE … FROM`, indexed on both sides), so a run where
    nothing changed costs one pass over the mirrored rewards, not a lookup per pushed entry; the
    entries it moves are written to the status history by the same join first, in the database
    (`record_selected_moves`: the first sync after a backfill moves every reward the backfill pushed).
    """
    status = func.coalesce(PlatformReward.reward_status, PlatformReward.payment_status)
    changed = (
        LedgerEntry.platform_reward_key == PlatformReward.key,
        LedgerEntry.program == program,
        status.is_not(None),
        LedgerEntry.platform_status.is_distinct_from(status),
    )
    with ctx.sessions() as session, session.begin():
        moved = select(LedgerEntry.entry_key, LedgerEntry.status, LedgerEntry.reason, status).where(*changed)
        record_selected_moves(session, moved, program, Stamp.of(ctx.run_id, ctx.as_of), "platform")
        done = session.execute(
            update(LedgerEntry)
            .where(*changed)
            .values(platform_status=status)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(done, "rowcount", 0) or 0)
