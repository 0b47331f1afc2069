"""Push's reads of the mirrored rewards are incremental and end exactly where the store-wide ones would.

The status read-back and the marker index read only the rewards stamped since their last pass
(`connector.push.marks`); after every run here, the store-wide passes (`storewide`) must find
nothing left to do. The runs go through the recovery paths where a reward's stamp is older than
the pass's mark: a lost record adopted from an old mirror row, a crash between that adoption and
the read-back, statuses moving backwards, a `--full` sync, marks missing (the first run after the
migration), the change clock restarted, a reward written without a stamp naming two entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

import connector.push.marks as marks_mod
import connector.push.outbox as push_mod
import connector.push.status as status_mod
from connector.run.runner import RunFailed, run_once
from connector.store.models import ChangeClock, LedgerEntry, PlatformReward, PushMark, RewardMarker
from sandbox.server import SandboxServer

from .conftest import AS_OF, make_settings
from .storewide import assert_as_store_wide
from .test_push import crash_once, entries, platform_rewards


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[marks_mod.Pass]]:
    """Every pass the push begins, as begun (`since` None: store-wide)."""
    seen: list[marks_mod.Pass] = []
    real = marks_mod.begin

    def spy(*args: Any, **kwargs: Any) -> marks_mod.Pass:
        run = real(*args, **kwargs)
        seen.append(run)
        return run

    monkeypatch.setattr(marks_mod, "begin", spy)
    yield seen


def set_status(server: SandboxServer, reward_key: str | None, status: str) -> None:
    with server.state.lock:
        rewards = server.state.partnerstack["rewards"]
        position = rewards.position(reward_key)
        assert position is not None
        entry = rewards.entries()[position]
        rewards.replace(entry, {**entry.obj, "reward_status": status, "updated_at": entry.obj["updated_at"] + 1})


def lose_record(engine: Engine, entry_key: str) -> None:
    """An entry whose push record was lost (a hand-edited or restored store): payable again, no key."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(LedgerEntry).where(LedgerEntry.entry_key == entry_key)
            .values(status="payable", push_state=None, platform_reward_key=None, platform_status=None,
                    pushed_at=None, pushed_run_id=None)
        )  # fmt: skip


def rereading(database_url: str, sandbox: SandboxServer) -> Any:
    """Settings that re-read the rewards' trailing window every run, so a changed status is pulled."""
    return make_settings(database_url, sandbox, partnerstack={"trailing_reread_hours": 0})


def sync(settings: Any, **kwargs: Any) -> None:
    run_once(settings, as_of=AS_OF, **kwargs)


def sync_until_pulled(settings: Any, engine: Engine, passes: list[marks_mod.Pass] | None = None) -> None:
    """Two syncs, each ending as the store-wide passes would, each with incremental passes."""
    for _ in range(2):
        sync(settings)
        if passes is not None:
            assert kinds(passes) == [("markers", False), ("readback:consio", False)]
        assert_as_store_wide(engine)


def kinds(passes: list[marks_mod.Pass]) -> list[tuple[str, bool]]:
    out = [(p.name, p.store_wide) for p in passes]
    passes.clear()
    return out


def test_statuses_moving_both_ways_are_read_back_incrementally(
    database_url: str, engine: Engine, sandbox: SandboxServer, passes: list[marks_mod.Pass]
) -> None:
    settings = rereading(database_url, sandbox)
    sync(settings)
    assert kinds(passes) == [("markers", True), ("readback:consio", True)]  # no mark yet: every reward
    sync(settings)  # the rewards pushed by the first run are mirrored now and read back
    assert [e.platform_status for e in entries(engine)] == ["approved", "approved", "approved"]
    assert kinds(passes) == [("markers", False), ("readback:consio", False)]
    assert_as_store_wide(engine)
    claw, first, _ = entries(engine)
    for status in ("declined", "pending", "approved", "hold"):  # a status may also move back
        set_status(sandbox, claw.platform_reward_key, status)
        set_status(sandbox, first.platform_reward_key, "paid" if status != "pending" else "approved")
        sync_until_pulled(settings, engine, passes)
        now = {e.entry_key: e.platform_status for e in entries(engine)}
        assert now[claw.entry_key] == status
        assert now[first.entry_key] == ("paid" if status != "pending" else "approved")
    assert len(platform_rewards(sandbox)) == 3


def test_a_lost_record_is_adopted_from_an_old_mirror_row_and_read_back(
    database_url: str, engine: Engine, sandbox: SandboxServer, passes: list[marks_mod.Pass]
) -> None:
    settings = rereading(database_url, sandbox)
    sync(settings)
    sync(settings)
    _, first, _ = entries(engine)
    reward = first.platform_reward_key
    lose_record(engine, first.entry_key)
    passes.clear()
    sync(settings)  # nothing was pulled: the reward's mirror row is older than both marks
    assert kinds(passes) == [("markers", False), ("readback:consio", False)]
    adopted = {e.entry_key: e for e in entries(engine)}[first.entry_key]
    assert (adopted.status, adopted.platform_reward_key, adopted.platform_status) == ("pushed", reward, "approved")
    assert len(platform_rewards(sandbox)) == 3  # adopted, not sent again
    assert_as_store_wide(engine)


def test_a_crash_between_adoption_and_read_back_is_read_back_by_the_next_run(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = rereading(database_url, sandbox)
    sync(settings)
    sync(settings)
    claw, _, _ = entries(engine)
    set_status(sandbox, claw.platform_reward_key, "declined")
    sync_until_pulled(settings, engine)
    lose_record(engine, claw.entry_key)
    monkeypatch.setattr(push_mod, "read_back_status", crash_once(push_mod.read_back_status, after=False))
    with pytest.raises(RunFailed, match="push failed: crash"):
        sync(settings)  # adopts the declined reward from its old mirror row, stops before the read-back
    adopted = {e.entry_key: e for e in entries(engine)}[claw.entry_key]
    assert (adopted.status, adopted.platform_status) == ("pushed", None)
    sync(settings)  # nothing new pulled: the reward's stamp is older than this run
    assert [e.platform_status for e in entries(engine)] == ["declined", "approved", "approved"]
    assert_as_store_wide(engine)
    assert len(platform_rewards(sandbox)) == 3


@pytest.mark.parametrize("how", ["full", "marks-missing", "clock-restarted"])
def test_store_wide_when_asked_or_when_a_mark_cannot_be_trusted(
    database_url: str, engine: Engine, sandbox: SandboxServer, passes: list[marks_mod.Pass], how: str
) -> None:
    settings = rereading(database_url, sandbox)
    sync(settings)
    sync(settings)
    claw, first, _ = entries(engine)
    set_status(sandbox, claw.platform_reward_key, "declined")
    sync_until_pulled(settings, engine)
    with Session(engine) as session, session.begin():
        if how == "marks-missing":  # as the first run after the migration finds the store
            session.execute(delete(PushMark))
            session.execute(delete(RewardMarker))
            session.execute(update(LedgerEntry).values(platform_status=None))
            session.execute(update(PlatformReward).values(changed_seq=0))
        elif how == "clock-restarted":
            session.execute(delete(ChangeClock))
    lose_record(engine, first.entry_key)
    passes.clear()
    sync(settings, full=how == "full")
    assert kinds(passes) == [("markers", True), ("readback:consio", True)]
    assert [e.platform_status for e in entries(engine)] == ["declined", "approved", "approved"]
    assert_as_store_wide(engine)
    set_status(sandbox, claw.platform_reward_key, "paid")
    passes.clear()
    sync_until_pulled(settings, engine, passes)
    assert [e.platform_status for e in entries(engine)] == ["paid", "approved", "approved"]
    assert_as_store_wide(engine)
    assert len(platform_rewards(sandbox)) == 3


def test_a_reward_written_without_a_stamp_naming_two_entries(
    database_url: str, engine: Engine, sandbox: SandboxServer, passes: list[marks_mod.Pass]
) -> None:
    settings = rereading(database_url, sandbox)
    sync(settings)
    sync(settings)
    claw, first, second = entries(engine)
    with Session(engine) as session, session.begin():
        session.execute(insert(PlatformReward).values(
            key="rwd_zz_by_hand", amount=1, currency="usd", raw={}, reward_status="paid",
            description=f"two [entry:{first.entry_key}] [entry:{second.entry_key}]"))  # fmt: skip
        assert session.scalar(select(PlatformReward.changed_seq).where(PlatformReward.key == "rwd_zz_by_hand")) is None
    lose_record(engine, second.entry_key)
    passes.clear()
    sync(settings)
    assert kinds(passes) == [("markers", False), ("readback:consio", False)]
    adopted = {e.entry_key: e for e in entries(engine)}[second.entry_key]
    # the lowest key of the unrecorded rewards naming it: its own reward (rwd_…0…) before rwd_zz_by_hand
    assert (adopted.platform_reward_key, adopted.platform_status) == (second.platform_reward_key, "approved")
    assert_as_store_wide(engine)
    assert len(platform_rewards(sandbox)) == 3


def test_entries_not_read_back_are_read_back_a_page_at_a_time(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lost record adopted from an old mirror row, so only the read-back's second set (pushed,
    not read back) can read them back, one entry per page."""
    monkeypatch.setattr(status_mod, "UNREAD_PAGE", 1)
    settings = rereading(database_url, sandbox)
    sync(settings)
    sync(settings)
    rewards = [e.platform_reward_key for e in entries(engine)]
    for e in entries(engine):
        lose_record(engine, e.entry_key)
    sync(settings)
    assert [(e.status, e.platform_reward_key, e.platform_status) for e in entries(engine)] == [
        ("pushed", reward, "approved") for reward in rewards
    ]
    assert len(platform_rewards(sandbox)) == 3  # adopted, not sent again
    assert_as_store_wide(engine)
