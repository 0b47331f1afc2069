"""Push exactly once: a crash at every step of the send protocol, then a resumed run.

Whatever step the crash hits, after the next run every ledger entry is on the platform
exactly once, with the Consio worked example's amounts (20000, 20000, -10000).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import adapters.partnerstack.rewards as rewards_mod
import connector.push.lanes as lanes_mod
import connector.push.outbox as push_mod
from connector.run.runner import RunFailed, run_once
from connector.store.models import LedgerEntry
from sandbox.server import SandboxServer

from .conftest import AS_OF, EXPECTED_AMOUNTS, make_settings


class Crash(Exception):
    pass


def platform_rewards(server: SandboxServer) -> list[dict[str, Any]]:
    body = httpx.get(f"{server.url}/_sandbox/rewards", timeout=10).json()
    return list(body["data"])


def entries(engine: Engine) -> list[LedgerEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.amount_minor)))


def assert_each_pushed_once(engine: Engine, server: SandboxServer) -> None:
    rewards = platform_rewards(server)
    by_entry = Counter(r["external_key"] for r in rewards)
    ledger = entries(engine)
    assert [e.amount_minor for e in ledger] == EXPECTED_AMOUNTS
    assert {e.status for e in ledger} == {"pushed"}
    assert {e.push_state for e in ledger} == {"sent"}
    assert by_entry == Counter({e.entry_key: 1 for e in ledger})
    assert sorted(r["amount"] for r in rewards) == EXPECTED_AMOUNTS
    keys = {r["external_key"]: r["key"] for r in rewards}
    assert {e.entry_key: e.platform_reward_key for e in ledger} == keys


def crash_once(real: Callable[..., Any], *, after: bool) -> Callable[..., Any]:
    """Wrap `real` so its first call raises, before or after doing its work."""
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1 and not after:
            raise Crash("crash before the step")
        result = real(*args, **kwargs)
        if calls["n"] == 1:
            raise Crash("crash after the step")
        return result

    return wrapper


@pytest.mark.parametrize("batch_size", [1, push_mod.BATCH_SIZE], ids=["batch-1", "batch-default"])
@pytest.mark.parametrize(
    ("target", "after", "sending_after_crash", "on_platform"),
    [
        ("_send", False, 1, 0),  # committed `sending`, request never left; the rest of the batch goes back
        ("_send", True, 1, 1),  # the platform has it, the ledger does not know
        ("_mark_pushed", True, 0, None),  # the batch recorded, crash right after
    ],
    ids=["before-send", "after-send-before-record", "after-record"],
)
def test_interrupted_push_resumes_to_exactly_once(
    database_url: str,
    engine: Engine,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    after: bool,
    sending_after_crash: int,
    on_platform: int | None,
    batch_size: int,
) -> None:
    settings = make_settings(database_url, sandbox)
    monkeypatch.setattr(push_mod, "BATCH_SIZE", batch_size)
    real_send = lanes_mod._send
    inner_send = crash_once(real_send, after=after) if target == "_send" else real_send
    sent_keys: list[str] = []

    def recording_send(client: Any, payload: dict[str, Any], key: str) -> dict[str, Any]:
        sent_keys.append(key)
        return inner_send(client, payload, key)

    monkeypatch.setattr(lanes_mod, "_send", recording_send)
    if target != "_send":
        monkeypatch.setattr(push_mod, target, crash_once(getattr(push_mod, target), after=after))

    with pytest.raises(RunFailed, match="push failed: crash"):
        run_once(settings, as_of=AS_OF)
    crashed = entries(engine)
    assert sum(e.push_state == "sending" for e in crashed) == sending_after_crash
    # After a recorded batch, the platform has exactly that batch: all 3 entries, or the first alone.
    recorded = min(batch_size, 3) if on_platform is None else 0
    assert sum(e.push_state == "sent" for e in crashed) == recorded
    # Whatever no request reached is back to untouched, not left for recovery to check.
    assert sum(e.push_state is None for e in crashed) == 3 - sending_after_crash - recorded
    assert len(platform_rewards(sandbox)) == (recorded if on_platform is None else on_platform)

    outcome = run_once(settings, as_of=AS_OF)

    assert_each_pushed_once(engine, sandbox)
    assert outcome.push is not None
    if target == "_send" and after:
        assert outcome.push.recovered == 1  # found on the platform, not sent again
        assert outcome.push.pushed == 2
    # Every attempt for one entry carried the same idempotency key, derived from the entry key.
    assert set(sent_keys) == {lanes_mod.idempotency_key(e.entry_key) for e in entries(engine)}
    resent = 2 if (target == "_send" and not after) else 1
    assert max(Counter(sent_keys).values()) == resent

def test_second_run_pushes_nothing_new(database_url: str, engine: Engine, sandbox: SandboxServer) -> None:
    settings = make_settings(database_url, sandbox)
    first = run_once(settings, as_of=AS_OF)
    second = run_once(settings, as_of=AS_OF)
    assert first.push is not None and second.push is not None
    assert (first.push.pushed, second.push.pushed, second.push.recovered) == (3, 0, 0)
    assert first.push.amounts["usd"].positive == 40000
    assert first.push.amounts["usd"].negative == 10000
    assert_each_pushed_once(engine, sandbox)


def test_rejected_reward_stays_payable_with_the_reason(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url, sandbox)
    real_build = rewards_mod.build_payload

    def unknown_partner_for_clawback(session: Session, entry: LedgerEntry, *args: Any) -> dict[str, Any]:
        payload = real_build(session, entry, *args)
        if entry.kind == "clawback":
            payload.update(partnership_key="part_nobody", partner_key="nobody")
            payload.pop("customer_key", None)
        return payload

    monkeypatch.setattr(rewards_mod, "build_payload", unknown_partner_for_clawback)
    outcome = run_once(settings, as_of=AS_OF)

    assert outcome.push is not None and (outcome.push.pushed, outcome.push.failed) == (2, 1)
    assert any("rejected" in note for note in outcome.notes)
    clawback = entries(engine)[0]
    assert (clawback.amount_minor, clawback.status, clawback.push_state) == (-10000, "payable", None)
    assert clawback.note is not None and clawback.note.startswith("push rejected: ") and "400" in clawback.note
    assert len(platform_rewards(sandbox)) == 2

    monkeypatch.setattr(rewards_mod, "build_payload", real_build)
    run_once(settings, as_of=AS_OF)
    assert_each_pushed_once(engine, sandbox)
    assert entries(engine)[0].note is None


def test_changed_body_under_the_same_key_fails_loudly(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url, sandbox)
    run_once(settings, as_of=AS_OF)
    first = entries(engine)[-1]
    with Session(engine) as session, session.begin():  # pretend the record was lost
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.entry_key == first.entry_key)
            .values(status="payable", push_state=None, platform_reward_key=None)
        )
    real_build = rewards_mod.build_payload

    def changed(*args: Any) -> dict[str, Any]:
        payload = real_build(*args)
        payload["description"] += " (edited)"
        return payload

    monkeypatch.setattr(rewards_mod, "build_payload", changed)
    monkeypatch.setattr(push_mod, "_recover_interrupted", lambda *a: set())
    with pytest.raises(RunFailed, match="409"):
        run_once(settings, as_of=AS_OF)
    assert len(platform_rewards(sandbox)) == 3


def test_embedded_entry_keys_are_found_in_any_field() -> None:
    reward = {
        "external_key": "a",
        "metadata": {"entry_key": "b"},
        "description": "referral-connector: commission consio [entry:c|x#0]",
    }
    assert rewards_mod.embedded_entry_keys(reward) == {"a", "b", "c|x#0"}
    assert lanes_mod.idempotency_key("k") == lanes_mod.idempotency_key("k") != lanes_mod.idempotency_key("k2")
