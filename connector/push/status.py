"""The platform's word on what was pushed: each reward's status, read back onto its entry.

Why: `pushed` says only that the platform took the reward; finance needs to know whether it was
approved, declined or paid. The pull mirrors the platform's rewards (`ps_rewards`, with
`reward_status` and `payment_status`); this copies each one's status onto the entry that carries
its key, so the report can say so and show a declined reward as a finding.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from connector.context import RunContext
from connector.ledger.history import Stamp, record_selected_moves
from connector.push import marks
from connector.store.models import LedgerEntry, PlatformReward
from connector.store.planner import note_rows_changed


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
    each driven by its own index), the second set a page of keys at a time (`_unread_pages`); the
    entries it moves are written to the status history by the same join first, in the database
    (`record_selected_moves`: the first sync after a backfill moves every reward the backfill pushed).
    The mark is moved in the same transaction.
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
        scopes: Iterable[tuple[ColumnElement[bool], ...]] = [(of_program,)]
        if not run.store_wide:
            fresh = [(of_program_unindexed, since) for since in marks.stamped_since(run)]
            unread = ((LedgerEntry.entry_key.in_(keys),) for keys in _unread_pages(session, program))
            scopes = itertools.chain(fresh, unread)
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
        note_rows_changed(session, LedgerEntry.__table__, moved_total)
        marks.done(session, run)
    return moved_total


UNREAD_PAGE = 1_000
"""Pushed entries not read back, taken at a time (`_unread_pages`)."""


def _unread_pages(session: Session, program: str) -> Iterator[list[str]]:
    """The keys of the program's pushed entries not read back (reward key, no platform status), in
    (program, key) order, `UNREAD_PAGE` at a time: each page one ordered LIMIT read of
    `ix_ledger_status_unread`, the partial index that holds exactly them, taken after the previous
    page was read back.

    Why pages and not one UPDATE with the two conditions: PostgreSQL cannot count these entries. It
    multiplies "has a reward key" (the pushed three quarters of the ledger) by "no platform status"
    (the quarter never pushed) as if they were independent, and from a fifth of the ledger planned a
    scan of every entry joined with every reward (165 ms at M once the statistics were current),
    where there are none or a handful. A LIMIT read in the order of the partial index is planned
    through that index: the larger the guess, the sooner the planner expects the page to fill.
    The program is a range, not an equality, on purpose: with `program = …` the order reduces to the
    key alone, which the primary key also gives, and the planner walked the primary key filtering
    every entry (it expects one in five to match, and at L none may). No other index gives
    (program, key) order. An entry left unread (its reward not mirrored yet) is behind the cursor, so
    each is read once per pass.
    """
    after = ""
    while True:
        keys = list(session.scalars(unread_page(program, after)))
        if not keys:
            return
        yield keys
        if len(keys) < UNREAD_PAGE:
            return
        after = keys[-1]


def unread_page(program: str, after: str) -> Select[str]:
    """The page of `_unread_pages` after the key `after`."""
    return (
        select(LedgerEntry.entry_key)
        .where(LedgerEntry.program >= program, LedgerEntry.program <= program,
               LedgerEntry.platform_reward_key.is_not(None), LedgerEntry.platform_status.is_(None),
               LedgerEntry.entry_key > after)
        .order_by(LedgerEntry.program, LedgerEntry.entry_key)
        .limit(UNREAD_PAGE)
    )  # fmt: skip
