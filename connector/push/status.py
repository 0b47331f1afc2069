"""The platform's word on what was pushed: each reward's status, read back onto its entry.

Why: `pushed` says only that the platform took the reward; finance needs to know whether it was
approved, declined or paid. The pull mirrors the platform's rewards (`ps_rewards`, with
`reward_status` and `payment_status`); this copies each one's status onto the entry that carries
its key, so the report can say so and show a declined reward as a finding.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update

from connector.context import RunContext
from connector.ledger.history import Stamp, record_selected_moves
from connector.push import marks
from connector.store.models import LedgerEntry, PlatformReward


def read_back_status(ctx: RunContext, program: str, *, store_wide: bool = False) -> int:
    """Set `platform_status` on the program's pushed entries whose reward's status changed; how many.

    After it every entry of the program whose mirrored reward has a status carries that status: the
    same as one UPDATE over every pushed entry joined with its reward, which is what it runs when
    `store_wide` (`--full`, a backfill) or when it has no mark (`connector.push.marks`). Otherwise the
    entries that can differ are only those
    - whose reward was stamped since the last read-back (new, or its status or any field changed,
      a status moving back included), or never stamped;
    - pushed but not read back (`platform_status` NULL: pushed, recovered or adopted since, in this
      run or one that stopped before its read-back, whatever the age of their reward's mirror row).
    No one else writes `platform_status`, and an entry gets its reward key only while payable, never
    after a read-back (a pushed entry never moves again), so an entry read back and not in either set
    still carries its reward's status. One UPDATE joined on the reward key per set (`UPDATE … FROM`,
    each driven by its own index); the entries it moves are written to the status history by the same
    join first, in the database (`record_selected_moves`: the first sync after a backfill moves every
    reward the backfill pushed). The mark is moved in the same transaction.
    """
    status = func.coalesce(PlatformReward.reward_status, PlatformReward.payment_status)
    changed = (
        LedgerEntry.platform_reward_key == PlatformReward.key,
        status.is_not(None),
        LedgerEntry.platform_status.is_distinct_from(status),
    )
    of_program = LedgerEntry.program == program
    # The same test that no index can serve: a pass over the rewards stamped since must start from
    # them (their `changed_seq` index, then each one's entry by its reward key), where SQLite, which
    # keeps no statistics here, would otherwise start from the program's every entry.
    of_program_unindexed = (LedgerEntry.program + "") == program
    moved_total = 0
    with ctx.sessions() as session, session.begin():
        run = marks.begin(session, marks.readback(program), store_wide=store_wide)
        scopes: list[tuple[ColumnElement[bool], ...]] = [(of_program,)]
        if not run.store_wide:
            scopes = [(of_program_unindexed, fresh) for fresh in marks.stamped_since(run)]
            unread = (LedgerEntry.platform_reward_key.is_not(None), LedgerEntry.platform_status.is_(None))
            scopes.append((of_program, *unread))  # by `ix_ledger_status_unread`
        stamp = Stamp.of(ctx.run_id, ctx.as_of)
        for scope in scopes:
            where = (*changed, *scope)
            moved = select(LedgerEntry.entry_key, LedgerEntry.status, LedgerEntry.reason, status).where(*where)
            record_selected_moves(session, moved, program, stamp, "platform")
            done = session.execute(
                update(LedgerEntry)
                .where(*where)
                .values(platform_status=status)
                .execution_options(synchronize_session=False)
            )
            moved_total += int(getattr(done, "rowcount", 0) or 0)
        marks.done(session, run)
    return moved_total
