"""The marker index (`ps_reward_markers`) rebuilt store-wide and kept incrementally holds exactly the
markers every mirrored description carries (`embedded_entry_keys`).

Why: the store-wide rebuild streams `ps_rewards` in table order and inserts each chunk's markers
while the read is open (`refresh_markers`); here with a chunk of 3 rewards, so a read spans many
chunks, and with descriptions that carry several markers, one marker twice, a marker across a line
break, a cut marker, an empty one, or none. The switch from the incremental pass to a rebuild when
more than `_REBUILD_ABOVE` rewards were stamped is taken at exactly that bound, and both give the
same index.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

import adapters.partnerstack.rewards as rewards_mod
from adapters.partnerstack.rewards import embedded_entry_keys, refresh_markers
from connector.store.models import ChangeClock, PlatformReward, PushMark, RewardMarker

DESCRIPTIONS: list[str | None] = [
    "Consio commission: March [entry:e-1]",
    "two [entry:e-2] and [entry:e-3]",
    "the same twice [entry:e-4] [entry:e-4]",
    "across a line [entry:e-\n5]",
    "cut [entry:e-6",
    "empty [entry:]",
    "no marker",
    None,
    "nested [entry:[entry:e-7]]",
    "[entry:e-1] names an entry another reward names",
    "typed on the platform [entry:" + "x" * 201 + "] beside [entry:e-8]",
]


def rewards(n: int, seq: int | None, prefix: str = "rwd_") -> list[dict[str, Any]]:
    # keys not in insertion order: the rebuild reads in table order, not by key
    return [{"key": f"{prefix}{(i * 7) % n:04d}", "amount": 100, "currency": "usd", "raw": {},
             "description": DESCRIPTIONS[i % len(DESCRIPTIONS)] if i % 11 else f"[entry:e-{i}] x [entry:e-{i + 1}]",
             "changed_seq": seq} for i in range(n)]  # fmt: skip


def described(session: Session) -> set[tuple[str, str]]:
    return {(entry_key, key)
            for key, description in session.execute(select(PlatformReward.key, PlatformReward.description))
            for entry_key in embedded_entry_keys({"description": description})}  # fmt: skip


def index(session: Session) -> set[tuple[str, str]]:
    return {(e, r) for e, r in session.execute(select(RewardMarker.entry_key, RewardMarker.reward_key))}


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rewards_mod, "_MARKER_CHUNK", 3)


def test_a_store_wide_rebuild_holds_every_marker_and_nothing_else(engine: Engine, small_chunks: None) -> None:
    with Session(engine) as session, session.begin():
        session.execute(insert(PlatformReward), rewards(53, seq=None))
        session.execute(insert(RewardMarker), [{"entry_key": "stale", "reward_key": "rwd_0000"},
                                               {"entry_key": "e-1", "reward_key": "rwd_gone"}])  # fmt: skip
    with Session(engine) as session, session.begin():
        read = refresh_markers(session, store_wide=True)
        want = described(session)
        assert index(session) == want
        assert {("e-2", k) for e, k in want if e == "e-3"} <= want  # two markers in one description
        with_marker = [d for k, d in session.execute(select(PlatformReward.key, PlatformReward.description))
                       if d is not None and "[entry:" in d]  # fmt: skip
        assert read == len(with_marker)
        assert not any(e == "e-6" or e == "" for e, _ in want)


@pytest.mark.parametrize("stamped", [4, 5])
def test_more_than_the_bound_stamped_rebuilds_and_both_paths_agree(
    engine: Engine, small_chunks: None, monkeypatch: pytest.MonkeyPatch, stamped: int
) -> None:
    monkeypatch.setattr(rewards_mod, "_REBUILD_ABOVE", 4)
    with Session(engine) as session, session.begin():
        session.execute(update(ChangeClock).where(ChangeClock.id == 1).values(seq=10))
        session.execute(insert(PlatformReward), rewards(23, seq=3))
    with Session(engine) as session, session.begin():
        assert refresh_markers(session) > 0  # no mark yet: store-wide
        assert session.scalar(select(PushMark.mark).where(PushMark.name == "markers")) == 10
    with Session(engine) as session, session.begin():
        keys = sorted(session.scalars(select(PlatformReward.key)))
        # one stamped since the mark, the others never stamped (written some other way): both count
        session.execute(update(PlatformReward).where(PlatformReward.key == keys[0])
                        .values(description="now [entry:n-0] [entry:n-00]", changed_seq=12))  # fmt: skip
        for i, key in enumerate(keys[1:stamped], 1):
            now = f"now [entry:n-{i}]" if i % 2 else "none now"
            unstamped = update(PlatformReward).values(description=now, changed_seq=None)
            session.execute(unstamped.where(PlatformReward.key == key))
    with Session(engine) as session, session.begin():
        read = refresh_markers(session)
        with_marker = [d for d in session.scalars(select(PlatformReward.description)) if d and "[entry:" in d]
        # up to the bound: exactly the stamped rewards read; above it: every reward with a marker
        assert read == (stamped if stamped <= 4 else len(with_marker))
        assert index(session) == described(session)
        assert ("n-00", keys[0]) in index(session)
    with Session(engine) as session, session.begin():  # a rebuild from scratch gives the same index
        before = index(session)
        refresh_markers(session, store_wide=True)
        assert index(session) == before


def test_a_marker_longer_than_any_entry_key_names_no_entry() -> None:
    longest = "k" * 200
    assert embedded_entry_keys({"description": f"[entry:{longest}] [entry:{longest}x] [entry:e-1]"}) == {longest, "e-1"}
