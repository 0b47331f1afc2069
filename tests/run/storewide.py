"""What push's store-wide passes would still do to a store: the yardstick of the incremental ones.

Why: push reads the mirrored rewards incrementally (`connector.push.marks`): the status read-back and
the marker index only from rewards stamped since their last pass. Right after any run, the passes as
they were before (one join of every pushed entry with its reward; a LIKE over every reward's
description) must find nothing left to do, and the marker index must hold exactly what every
reward's description says. Run after a run, `store_wide_leftovers` returning all-empty is "the
incremental passes gave exactly what the store-wide passes give".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from adapters.partnerstack.rewards import embedded_entry_keys
from connector.push.pages import payable
from connector.store.models import LedgerEntry, PlatformReward, RewardMarker


@dataclass
class Leftovers:
    unread: list[tuple[str, str | None, str]]  # (entry, its platform_status, its reward's status)
    adoptable: list[tuple[str, str]]  # (payable entry, unrecorded reward naming it)
    markers_missing: set[tuple[str, str]]  # (entry, reward) a description names, not in the index
    markers_extra: set[tuple[str, str]]  # in the index, named by no description

    @property
    def empty(self) -> bool:
        return not (self.unread or self.adoptable or self.markers_missing or self.markers_extra)


def store_wide_leftovers(engine: Engine, program: str | None = None) -> Leftovers:
    """What the store-wide read-back would still move and the store-wide search would still adopt
    (for `program`, or every program in the ledger), and how the marker index differs from a rebuild."""
    status = func.coalesce(PlatformReward.reward_status, PlatformReward.payment_status)
    with Session(engine) as session:
        programs = [program] if program else list(session.scalars(select(LedgerEntry.program).distinct()))
        unread = [
            (key, mine, theirs)
            for key, mine, theirs in session.execute(
                select(LedgerEntry.entry_key, LedgerEntry.platform_status, status).where(
                    LedgerEntry.platform_reward_key == PlatformReward.key,
                    LedgerEntry.program.in_(programs),
                    status.is_not(None),
                    LedgerEntry.platform_status.is_distinct_from(status),
                )
            )
        ]
        recorded = select(LedgerEntry.entry_key).where(LedgerEntry.platform_reward_key == PlatformReward.key)
        named: dict[str, str] = {}
        for key, description in session.execute(
            select(PlatformReward.key, PlatformReward.description).where(
                PlatformReward.description.like("%[entry:%"), ~recorded.exists()
            )
        ):
            for entry_key in embedded_entry_keys({"description": description}):
                named[entry_key] = min(named.get(entry_key, key), key)
        adoptable: list[tuple[str, str]] = []
        for name in programs:
            open_keys = set(session.scalars(select(LedgerEntry.entry_key).where(*payable(name))))
            adoptable += sorted((k, r) for k, r in named.items() if k in open_keys)
        described = {
            (entry_key, key)
            for key, description in session.execute(select(PlatformReward.key, PlatformReward.description))
            for entry_key in embedded_entry_keys({"description": description})
        }
        index = {(e, r) for e, r in session.execute(select(RewardMarker.entry_key, RewardMarker.reward_key))}
    return Leftovers(sorted(unread), adoptable, described - index, index - described)


def assert_as_store_wide(engine: Engine, program: str | None = None) -> None:
    leftovers = store_wide_leftovers(engine, program)
    assert leftovers.empty, leftovers
