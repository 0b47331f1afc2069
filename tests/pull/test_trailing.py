"""Rewards and transactions (no update filter): read what is new, re-read the window when due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

import connector.pull.pages as pages
from adapters.partnerstack import to_epoch_ms
from connector.config import ConfigError, load_settings
from connector.pull import pull
from connector.store.db import json_dumps
from connector.store.models import PlatformReward, SyncCursor
from sandbox.server import SandboxServer
from tests.pull.conftest import MakeCtx, sandbox_settings
from tests.pull.scenarios import NOW, big

HOUR = dt.timedelta(hours=1)
WINDOW_MS = 35 * 86_400_000
OVERLAP_MS = 300_000
OLD_HEAD_CREATED = to_epoch_ms(NOW - dt.timedelta(days=56))  # rwd_4, the newest reward of `big`


@pytest.fixture
def ps_gets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, str]]]]:
    """(resource, query) of every PartnerStack rewards/transactions GET the connector sends."""
    seen: list[tuple[str, dict[str, str]]] = []
    original = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        resource = request.url.path.rsplit("/", 1)[-1]
        if request.method == "GET" and "/partnerstack/" in request.url.path and resource in ("rewards", "transactions"):
            seen.append((resource, dict(request.url.params)))
        return original(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", send)
    yield seen


def _push(srv: SandboxServer, n: int) -> list[str]:
    """Create `n` rewards the way the push does; the sandbox stamps them all with its (frozen) now."""
    keys = []
    for i in range(n):
        body = {"amount": 100 + i, "description": "x", "target": {"key": f"cust_{i % 40:03d}", "type": "customer"}}
        response = httpx.post(f"{srv.partnerstack_url}/rewards", json=body, auth=("pk", "sk"))
        response.raise_for_status()
        keys.append(response.json()["data"]["key"])
    return keys


def _new(key: str, head_created: int, limit: str = "250") -> list[dict[str, str]]:
    """The queries of an incremental read: newer than `key`, then the overlap before the head."""
    return [
        {"limit": limit, "ending_before": key},
        {"limit": limit, "min_created": str(head_created - OVERLAP_MS), "max_created": str(head_created - 1)},
    ]


def _rewards(gets: list[tuple[str, dict[str, str]]]) -> list[dict[str, str]]:
    return [q for resource, q in gets if resource == "rewards"]


def _state(engine: Engine, stream: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.scalar(select(SyncCursor.state).where(SyncCursor.stream == stream)) or {})


def _reward_keys(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(PlatformReward.key)))


def test_incremental_runs_read_only_new_rewards_and_the_window_when_due(
    engine: Engine, database_url: str, make_ctx: MakeCtx, ps_gets: list[tuple[str, dict[str, str]]]
) -> None:
    with SandboxServer(big(partners=30, invoices=10)) as srv:
        settings = sandbox_settings(srv, database_url)
        pull(make_ctx(settings, as_of=NOW))  # first run: everything
        assert _rewards(ps_gets) == [{"limit": "250"}]
        assert ps_gets[-1] == ("transactions", {"limit": "250"})
        assert _state(engine, "partnerstack.rewards") == {
            "head": {"key": "rwd_4", "created": OLD_HEAD_CREATED}, "reread_at": to_epoch_ms(NOW), "pass": None
        }

        first = _push(srv, 3)  # all three created in the same millisecond (the sandbox clock is frozen)
        ps_gets.clear()
        stats = pull(make_ctx(settings, as_of=NOW + HOUR))
        assert _rewards(ps_gets) == _new("rwd_4", OLD_HEAD_CREATED)
        newest_transaction = to_epoch_ms(dt.datetime(2025, 6, 3, tzinfo=dt.UTC))  # tran_2
        assert [q for r, q in ps_gets if r == "transactions"] == _new("tran_2", newest_transaction)
        assert stats["partnerstack.rewards"].pulled == 3 and stats["partnerstack.rewards"].requests == 2
        assert _reward_keys(engine) >= set(first)

        second = _push(srv, 2)  # same millisecond again: only these two are read
        ps_gets.clear()
        stats = pull(make_ctx(settings, as_of=NOW + 2 * HOUR))
        assert _rewards(ps_gets) == _new(first[-1], to_epoch_ms(NOW))
        assert stats["partnerstack.rewards"].pulled == 2
        assert _reward_keys(engine) == {f"rwd_{i}" for i in range(5)} | set(first) | set(second)

        ps_gets.clear()
        stats = pull(make_ctx(settings, as_of=NOW + 24 * HOUR))  # 24 h after the last full read: due
        assert _rewards(ps_gets) == [{"limit": "250", "min_created": str(to_epoch_ms(NOW + 24 * HOUR) - WINDOW_MS)}]
        assert stats["partnerstack.rewards"].pulled == 5  # the pushed ones; rwd_0..4 are older than 35 days
        assert _state(engine, "partnerstack.rewards")["reread_at"] == to_epoch_ms(NOW + 24 * HOUR)

        ps_gets.clear()
        stats = pull(make_ctx(settings, as_of=NOW + 47 * HOUR))  # 23 h after that: not due
        assert _rewards(ps_gets) == _new(second[-1], to_epoch_ms(NOW))
        assert stats["partnerstack.rewards"].pulled == 0


def test_reread_every_run_when_hours_is_zero(
    engine: Engine, database_url: str, make_ctx: MakeCtx, ps_gets: list[tuple[str, dict[str, str]]]
) -> None:
    with SandboxServer(big(partners=30, invoices=10)) as srv:
        settings = sandbox_settings(srv, database_url, partnerstack={"trailing_reread_hours": 0})
        pull(make_ctx(settings, as_of=NOW))
        ps_gets.clear()
        pull(make_ctx(settings, as_of=NOW + HOUR))
    assert _rewards(ps_gets) == [{"limit": "250", "min_created": str(to_epoch_ms(NOW + HOUR) - WINDOW_MS)}]


def test_a_crash_inside_the_new_read_resumes_without_loss_or_reread(
    engine: Engine,
    database_url: str,
    make_ctx: MakeCtx,
    monkeypatch: pytest.MonkeyPatch,
    ps_gets: list[tuple[str, dict[str, str]]],
) -> None:
    with SandboxServer(big(partners=30, invoices=10)) as srv:
        settings = sandbox_settings(srv, database_url, partnerstack={"page_size": 2})
        pull(make_ctx(settings, as_of=NOW))
        pushed = _push(srv, 5)  # newest first: pushed[4], pushed[3], ... then rwd_4
        real = pages.upsert_rows
        reward_pages = {"n": 0}

        def crash_on_second_reward_page(session: Any, model: Any, rows: Any) -> int:
            if model is PlatformReward:
                reward_pages["n"] += 1
                if reward_pages["n"] == 2:
                    raise RuntimeError("killed")
            return real(session, model, rows)

        monkeypatch.setattr(pages, "upsert_rows", crash_on_second_reward_page)
        ps_gets.clear()
        with pytest.raises(RuntimeError, match="killed"):
            pull(make_ctx(settings, as_of=NOW + HOUR))
        assert _rewards(ps_gets) == [
            {"limit": "2", "ending_before": "rwd_4"},
            {"limit": "2", "ending_before": pushed[1]},
        ]
        assert _reward_keys(engine) == {f"rwd_{i}" for i in range(5)} | {pushed[0], pushed[1]}
        saved = _state(engine, "partnerstack.rewards")
        assert saved["head"] == {"key": "rwd_4", "created": OLD_HEAD_CREATED}  # moves only at the end
        assert saved["pass"] == {"kind": "new", "cursor": pushed[1], "newest": {"key": pushed[1],
                                                                              "created": to_epoch_ms(NOW)}}

        monkeypatch.setattr(pages, "upsert_rows", real)
        ps_gets.clear()
        stats = pull(make_ctx(settings, as_of=NOW + HOUR))
        assert _rewards(ps_gets) == [
            {"limit": "2", "ending_before": pushed[1]},
            {"limit": "2", "ending_before": pushed[3]},
            {"limit": "2", "min_created": str(OLD_HEAD_CREATED - OVERLAP_MS), "max_created": str(OLD_HEAD_CREATED - 1)},
        ]
        assert stats["partnerstack.rewards"].pulled == 3
    assert _reward_keys(engine) == {f"rwd_{i}" for i in range(5)} | set(pushed)
    assert _state(engine, "partnerstack.rewards")["head"] == {"key": pushed[4], "created": to_epoch_ms(NOW)}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PlatformReward)) == 10


def test_a_vanished_head_falls_back_to_the_window_with_a_note(
    engine: Engine, database_url: str, make_ctx: MakeCtx, ps_gets: list[tuple[str, dict[str, str]]]
) -> None:
    with SandboxServer(big(partners=30, invoices=10)) as srv:
        settings = sandbox_settings(srv, database_url)
        pull(make_ctx(settings, as_of=NOW))
        state = _state(engine, "partnerstack.rewards")
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE sync_cursors SET state = :s WHERE stream = 'partnerstack.rewards'"),
                {"s": json_dumps({**state, "head": {"key": "rwd_gone", "created": OLD_HEAD_CREATED}})},
            )
        pushed = _push(srv, 1)
        ps_gets.clear()
        ctx = make_ctx(settings, as_of=NOW + HOUR)
        pull(ctx)
    assert _rewards(ps_gets) == [
        {"limit": "250", "ending_before": "rwd_gone"},  # 400: no such key
        {"limit": "250", "min_created": str(to_epoch_ms(NOW + HOUR) - WINDOW_MS)},
    ]
    assert any("newest record read before is gone; re-read the trailing window" in n for n in ctx.notes)
    assert _state(engine, "partnerstack.rewards")["head"] == {"key": pushed[0], "created": to_epoch_ms(NOW)}
    assert pushed[0] in _reward_keys(engine)


def test_a_pass_saved_by_the_older_layout_is_finished(
    engine: Engine, database_url: str, make_ctx: MakeCtx, ps_gets: list[tuple[str, dict[str, str]]]
) -> None:
    with SandboxServer(big(partners=30, invoices=10)) as srv:
        settings = sandbox_settings(srv, database_url)
        with engine.begin() as conn:
            conn.execute(
                SyncCursor.__table__.insert(),
                {"stream": "partnerstack.rewards", "state": {"full_read": True, "pass": {"min_created": 5,
                                                                                          "after": "rwd_3"}},
                 "updated_at": NOW},
            )
        pull(make_ctx(settings, as_of=NOW))
    assert _rewards(ps_gets) == [{"limit": "250", "min_created": "5", "starting_after": "rwd_3"}]
    assert _reward_keys(engine) == {"rwd_0", "rwd_1", "rwd_2"}
    assert _state(engine, "partnerstack.rewards") == {
        "head": {"key": "rwd_2", "created": to_epoch_ms(NOW - dt.timedelta(days=58))},
        "reread_at": to_epoch_ms(NOW),
        "pass": None,
    }


def test_trailing_reread_hours_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "connector.toml"
    path.write_text("[partnerstack]\ntrailing_reread_hours = -1\n")
    with pytest.raises(ConfigError, match=r"^bad setting partnerstack\.trailing_reread_hours: .*greater than or equal"):
        load_settings(path)
    path.write_text("[partnerstack]\ntrailing_reread_hours = 6\n")
    assert load_settings(path).partnerstack.trailing_reread_hours == 6
