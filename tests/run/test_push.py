"""Push exactly once without the platform's help: a crash at every step of the send protocol, then
a resumed run; lost answers; refusals.

The sandbox ignores `Idempotency-Key`, as PartnerStack documents none. Whatever step the crash
hits, after the next run every ledger entry is on the platform exactly once, with the Consio worked
example's amounts (20000, 20000, -10000), each sent in the documented body.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import adapters.partnerstack.rewards as rewards_mod
import connector.push.lanes as lanes_mod
import connector.push.outbox as push_mod
from connector.report.build import build_report
from connector.report.jsonfmt import report_dict
from connector.run.runner import RunFailed, run_once
from connector.store.models import LedgerEntry
from sandbox.server import SandboxServer

from .conftest import AS_OF, EXPECTED_AMOUNTS, make_settings
from .storewide import assert_as_store_wide


class Crash(Exception):
    pass


def platform_rewards(server: SandboxServer) -> list[dict[str, Any]]:
    body = httpx.get(f"{server.url}/_sandbox/rewards", timeout=10).json()
    return list(body["data"])


def entries(engine: Engine) -> list[LedgerEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.amount_minor)))


def marker(reward: dict[str, Any]) -> str:
    (key,) = rewards_mod.embedded_entry_keys(reward)
    return key


def assert_each_pushed_once(engine: Engine, server: SandboxServer) -> None:
    rewards = platform_rewards(server)
    by_entry = Counter(marker(r) for r in rewards)
    ledger = entries(engine)
    assert [e.amount_minor for e in ledger] == EXPECTED_AMOUNTS
    assert {e.status for e in ledger} == {"pushed"}
    assert {e.push_state for e in ledger} == {"sent"}
    assert by_entry == Counter({e.entry_key: 1 for e in ledger})
    assert sorted(r["amount"] for r in rewards) == EXPECTED_AMOUNTS
    keys = {marker(r): r["key"] for r in rewards}
    assert {e.entry_key: e.platform_reward_key for e in ledger} == keys
    assert_as_store_wide(engine)  # the incremental read-back and search left nothing for the store-wide ones


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

    def recording_send(client: Any, payload: dict[str, Any]) -> dict[str, Any]:
        assert set(payload) == {"amount", "description", "target"}  # the documented body, nothing else
        sent_keys.append(marker(payload))
        return inner_send(client, payload)

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
    # Only a request that never left is sent again; one that landed is found, not resent.
    assert set(sent_keys) == {e.entry_key for e in entries(engine)}
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


def test_refused_reward_is_not_retried_until_its_body_changes(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url, sandbox)
    real_body = rewards_mod.BodyBuilder.body

    def unknown_customer_for_clawback(self: Any, session: Session, entry: LedgerEntry, program: Any) -> Any:
        body = real_body(self, session, entry, program)
        if entry.kind == "clawback":
            body["target"] = {"key": "cust_nobody", "type": "customer"}
        return body

    monkeypatch.setattr(rewards_mod.BodyBuilder, "body", unknown_customer_for_clawback)
    outcome = run_once(settings, as_of=AS_OF)

    assert outcome.push is not None and (outcome.push.pushed, outcome.push.failed) == (2, 1)
    assert any("refused" in note for note in outcome.notes)
    clawback = entries(engine)[0]
    assert (clawback.amount_minor, clawback.status, clawback.push_state) == (-10000, "payable", "refused")
    error = clawback.push_error
    assert error is not None and error.startswith("push rejected: ") and "400" in error
    assert "cust_nobody not found" in error  # the platform's own message
    assert clawback.note is not None and "basis −50,000 × 0.20 = −10,000" in clawback.note  # the arithmetic stays
    assert len(platform_rewards(sandbox)) == 2
    refused = [f for f in report_dict(build_report(engine))["findings"] if f["code"] == "push_refused"]
    assert [(f["subject_key"], "cust_nobody not found" in f["detail"]) for f in refused] == [
        (clawback.entry_key, True)]

    again = run_once(settings, as_of=AS_OF)  # the same body: not sent again
    assert again.push is not None and (again.push.pushed, again.push.failed) == (0, 0)
    assert entries(engine)[0].push_state == "refused" and len(platform_rewards(sandbox)) == 2

    monkeypatch.setattr(rewards_mod.BodyBuilder, "body", real_body)  # the mapping was fixed: a new body
    run_once(settings, as_of=AS_OF)
    assert_each_pushed_once(engine, sandbox)
    assert entries(engine)[0].push_error is None and entries(engine)[0].refused_body is None
    assert entries(engine)[0].note == clawback.note


def test_lost_answers_are_asked_about_never_resent(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reward POST is stored and then its connection dropped: each is found, none sent twice."""
    settings = make_settings(database_url, sandbox)
    posts: list[str] = []
    real_send = lanes_mod._send

    def counting_send(destination: Any, body: dict[str, Any]) -> dict[str, Any]:
        posts.append(marker(body))
        return real_send(destination, body)

    monkeypatch.setattr(lanes_mod, "_send", counting_send)
    sandbox.set_faults("commit-then-drop=1")
    try:
        outcome = run_once(settings, as_of=AS_OF)
    finally:
        sandbox.set_faults(None)
    assert outcome.push is not None and outcome.push.pushed == 3
    assert sorted(Counter(posts).values()) == [1, 1, 1]
    assert_each_pushed_once(engine, sandbox)


def test_a_clean_push_asks_the_platform_nothing(
    database_url: str, engine: Engine, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url, sandbox)
    lookups: list[int] = []
    real_find = rewards_mod.PartnerStackRewards.find_pushed

    def counting_find(self: Any, bodies: Any, since: Any) -> dict[str, str]:
        lookups.append(len(bodies))
        return real_find(self, bodies, since)

    monkeypatch.setattr(rewards_mod.PartnerStackRewards, "find_pushed", counting_find)
    run_once(settings, as_of=AS_OF)
    assert lookups == []
    assert_each_pushed_once(engine, sandbox)


def test_status_read_back_lands_on_the_entry(database_url: str, engine: Engine, sandbox: SandboxServer) -> None:
    settings = make_settings(database_url, sandbox)
    run_once(settings, as_of=AS_OF)
    claw = entries(engine)[0]
    with sandbox.state.lock:  # the platform declines the clawback
        rewards = sandbox.state.partnerstack["rewards"]
        position = rewards.position(claw.platform_reward_key)
        assert position is not None
        entry = rewards.entries()[position]
        rewards.replace(entry, {**entry.obj, "reward_status": "declined", "updated_at": entry.obj["updated_at"] + 1})
    run_once(settings, as_of=AS_OF)
    run_once(settings, as_of=AS_OF)
    statuses = [e.platform_status for e in entries(engine)]
    assert statuses == ["declined", "approved", "approved"]
    assert_as_store_wide(engine)
    report = report_dict(build_report(engine))
    assert sorted((e["amount_minor"], e["platform_status"]) for e in report["entries"]) == [
        (-10000, "declined"), (20000, "approved"), (20000, "approved")]
    declined = [f for f in report["findings"] if f["code"] == "reward_declined"]
    assert [f["subject_key"] for f in declined] == [claw.entry_key]


def test_entry_amount_is_usd_cents_or_held() -> None:
    from types import SimpleNamespace

    from connector.mapping.outbound import parse_reward_body
    from connector.push.destination import Held

    spec = parse_reward_body({}, "test")
    usd = SimpleNamespace(amount_minor=1000, currency="usd")
    yen = SimpleNamespace(amount_minor=10000, currency="jpy")
    paid_in_usd = SimpleNamespace(amount_minor=10000, currency="jpy", payout_amount_minor=6712, payout_currency="usd")
    assert rewards_mod.entry_amount(usd, spec) == 1000  # type: ignore[arg-type]
    assert rewards_mod.entry_amount(paid_in_usd, spec) == 6712  # type: ignore[arg-type]
    held = rewards_mod.entry_amount(yen, spec)  # type: ignore[arg-type]
    assert isinstance(held, Held) and "JPY" in held.reason


def test_embedded_entry_keys_are_read_from_the_description() -> None:
    reward = {"external_key": "a", "metadata": {"entry_key": "b"},
              "description": "referral-connector: commission consio [entry:c|x#0]"}
    assert rewards_mod.embedded_entry_keys(reward) == {"c|x#0"}
