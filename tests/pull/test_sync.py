"""The pull pipeline against the sandbox: full, incremental, interrupted, faulted, backfill."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

import connector.pull as sync
import connector.pull.pages as pages
from adapters.http import AuthError
from connector.pull import pull
from connector.store.db import json_dumps
from connector.store.models import Quarantine, RunStreamStat, SyncCursor
from sandbox.server import SandboxServer
from tests.pull.conftest import MakeCtx, sandbox_settings
from tests.pull.scenarios import big, consio, with_bad_records
from tests.pull.snapshot import store_snapshot

SECRETS = ("123-45-6789", "123456789", "000123456789", "021000021", "DE89370400440532013000", "DE811569869")


def _dump(engine: Engine) -> str:
    """Every row of every table as text: what a reader of the database could see."""
    out = []
    with engine.connect() as conn:
        for name in sorted(pages.models.Base.metadata.tables):
            out += [json_dumps(dict(r._mapping)) for r in conn.execute(text(f"SELECT * FROM {name}"))]
    return "\n".join(out)


def _stats(srv: SandboxServer) -> dict[str, Any]:
    return httpx.get(f"{srv.url}/_sandbox/stats").json()


def test_full_pull_of_the_consio_example(engine: Engine, database_url: str, make_ctx: MakeCtx) -> None:
    with SandboxServer(consio()) as srv:
        ctx = make_ctx(sandbox_settings(srv, database_url))
        stats = pull(ctx)
    snap = store_snapshot(engine)
    inv = {r["id"]: r for r in snap["st_invoices"]}
    assert inv["in_A1"]["amount_paid"] == 108000 and inv["in_A1"]["tax"] == 8000
    assert inv["in_A2"]["paid_at"] == "2026-03-02T00:00:00+00:00"
    lines = [(r["id"], r["invoice_id"], r["amount"], r["price_id"], r["product_id"]) for r in snap["st_invoice_lines"]]
    assert lines == [
        ("il_A1", "in_A1", 100000, "price_platform_monthly", "prod_platform"),
        ("il_A2", "in_A2", 100000, "price_platform_monthly", "prod_platform"),
    ]
    assert [(r["id"], r["payment_intent"], r["amount"]) for r in snap["st_refunds"]] == [("re_A2", "pi_A2", 54000)]
    assert [(r["invoice_id"], r["payment_intent"]) for r in snap["st_invoice_payments"]] == [
        ("in_A1", "pi_A1"),
        ("in_A2", "pi_A2"),
    ]
    partners = {r["key"]: r for r in snap["ps_partners"]}
    ada, bob = partners["part_ada"], partners["part_bob"]
    assert (ada["group_slug"], ada["country"], ada["tax_form"], ada["tax_id_present"], ada["tax_id_last4"]) == (
        "master", "US", "W-9", True, "6789"
    )
    assert (ada["bank_kind"], ada["bank_last4"], len(ada["bank_fingerprint"])) == ("account", "6789", 64)
    assert (bob["bank_kind"], bob["bank_last4"], bob["tax_id_last4"]) == ("iban", "3000", "9869")
    assert "tax_id" not in ada["raw"]["fields"] and "iban" not in bob["raw"]["fields"]
    leads = {r["key"]: r for r in snap["ps_leads"]}
    assert (leads["lead_acme_bob"]["email"], leads["lead_acme_bob"]["consent"]) == ("ops@AcmeRobotics.io", True)
    assert snap["ps_customers"][0]["provider_key"] == "cus_ACME"
    assert stats["stripe.invoices"].pulled == 2 and stats["partnerstack.partnerships"].pulled == 2
    dump = _dump(engine)
    for secret in SECRETS:
        assert secret not in dump
    with engine.connect() as conn:
        rows = conn.execute(select(RunStreamStat).where(RunStreamStat.run_id == ctx.run_id)).all()
    assert {r.stream for r in rows} >= {"partnerstack.leads", "stripe.invoices", "stripe.events"}


def test_big_scenario_crosses_pages_and_fetches_every_invoice_line(
    engine: Engine, database_url: str, make_ctx: MakeCtx, costs_csv: Any
) -> None:
    scenario = big()
    with SandboxServer(scenario) as srv:
        settings = sandbox_settings(srv, database_url, finance={"marketing_costs_file": costs_csv(scenario)})
        stats = pull(make_ctx(settings))
        paths = _stats(srv)["paths"]
    snap = store_snapshot(engine)
    assert len(snap["ps_partners"]) == 260
    assert stats["partnerstack.partnerships"].pages == 2
    assert len(snap["st_invoices"]) == 120
    long_lines = [r for r in snap["st_invoice_lines"] if r["invoice_id"] == "in_0007"]
    assert len(long_lines) == 25 and sum(r["amount"] for r in long_lines) == 25 * 700
    assert paths["/stripe/v1/invoices/in_0007/lines"] == 1  # lines 11-25 in one page past the 10 embedded
    assert len(snap["st_invoice_lines"]) == 119 + 25
    items = {r["id"]: r for r in snap["st_subscription_items"]}
    assert (items["si_005"]["subscription_id"], items["si_005"]["quantity"], items["si_005"]["unit_amount"]) == (
        "sub_005", 2, 5000
    )
    subs = {r["id"]: r for r in snap["st_subscriptions"]}
    assert subs["sub_005"]["term_months"] == 12
    products = {r["id"]: r for r in snap["st_products"]}
    assert (products["prod_hw"]["category"], products["prod_hw"]["unit_cost"]) == ("hardware", 1200)
    cn = snap["st_credit_notes"][0]
    assert (cn["refund_ids"], cn["total_excluding_tax"], cn["type"]) == (["re_0030"], 2000, "post_payment")
    assert [(d["id"], d["status"], d["amount"]) for d in snap["st_disputes"]] == [("dp_0050", "lost", 22000)]
    rewards = {r["key"]: r for r in snap["ps_rewards"]}
    assert (rewards["rwd_3"]["amount"], rewards["rwd_3"]["currency"], rewards["rwd_3"]["partner_key"]) == (
        1503, "usd", "part_0003"
    )
    costs = sorted((r["customer_id"], r["amount"], r["currency"]) for r in snap["fin_marketing_costs"])
    assert costs == [("cus_001", 5000, "usd"), ("cus_001", 5000, "usd"), ("cus_002", 1234, "eur")]
    assert stats["stripe.invoices"].requests == paths["/stripe/v1/invoices"] + 1


def test_incremental_run_reads_only_what_changed(engine: Engine, database_url: str, make_ctx: MakeCtx) -> None:
    with SandboxServer(big(partners=30, invoices=30)) as srv:
        settings = sandbox_settings(srv, database_url)
        pull(make_ctx(settings))
        httpx.post(f"{srv.url}/_sandbox/stats/reset")
        srv.apply(
            {
                "now": "2026-07-01T00:00:00Z",
                "partnerstack": {
                    "partnerships": [{"key": "part_0003", "fields": {"tax_form": "W-8BEN", "city": "Oslo"}}]
                },
                "stripe": {
                    "invoices": [
                        {"id": "in_new", "customer": "cus_001", "currency": "usd", "status": "paid",
                         "created": "2026-06-30T12:00:00Z", "amount_due": 500, "amount_paid": 500,
                         "status_transitions": {"paid_at": "2026-06-30T13:00:00Z"},
                         "lines": [{"id": "il_new", "amount": 500, "currency": "usd", "quantity": 1}]},
                        {"id": "in_0002", "status": "void"},
                    ]
                },
            }
        )
        ctx = make_ctx(settings, as_of=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
        stats = pull(ctx)
        paths = _stats(srv)["paths"]
    snap = store_snapshot(engine)
    partner = next(r for r in snap["ps_partners"] if r["key"] == "part_0003")
    assert (partner["tax_form"], partner["city"]) == ("W-8BEN", "Oslo")
    invoices = {r["id"]: r for r in snap["st_invoices"]}
    assert invoices["in_new"]["amount_paid"] == 500 and invoices["in_0002"]["status"] == "void"
    assert any(r["id"] == "il_new" for r in snap["st_invoice_lines"])
    # nothing else was re-read: one page per PartnerStack list, Stripe only through /v1/events
    stripe_lists = [p for p in paths if p.startswith("/stripe/v1/") and p != "/stripe/v1/events"]
    assert stripe_lists == []
    assert all(n == 1 for p, n in paths.items() if p.startswith("/partnerstack/"))
    assert stats["partnerstack.partnerships"].pulled == 2  # the change + the newest one, inside the overlap
    assert stats["stripe.invoices"].pulled == 2


def _clean_store(database_url: str, scenario: dict[str, Any], make_ctx: MakeCtx, engine: Engine) -> Any:
    with SandboxServer(scenario) as srv:
        pull(make_ctx(sandbox_settings(srv, database_url)))
    return store_snapshot(engine)


@pytest.mark.parametrize("crash_after", [3, 12, 40])
def test_killed_run_resumes_to_the_same_store(
    engine: Engine, database_url: str, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch, crash_after: int
) -> None:
    scenario = big(partners=260, invoices=60)
    with SandboxServer(scenario) as srv:
        settings = sandbox_settings(srv, database_url, partnerstack={"page_size": 50}, stripe={"page_size": 10})
        real = pages.upsert_rows
        calls = {"n": 0}

        def flaky(*args: Any, **kw: Any) -> int:
            calls["n"] += 1
            if calls["n"] == crash_after:
                raise RuntimeError("killed")
            return real(*args, **kw)

        monkeypatch.setattr(pages, "upsert_rows", flaky)
        with pytest.raises(RuntimeError, match="killed"):
            pull(make_ctx(settings))
        monkeypatch.setattr(pages, "upsert_rows", real)
        with engine.connect() as conn:
            assert (conn.scalar(select(func.count()).select_from(SyncCursor)) or 0) >= 1
        pull(make_ctx(settings))
        resumed = store_snapshot(engine)
        requests_total = _stats(srv)["total"]
    with engine.begin() as conn:
        for table in reversed(pages.models.Base.metadata.sorted_tables):
            conn.execute(table.delete())
    clean = _clean_store(database_url, scenario, make_ctx, engine)
    assert resumed == clean
    assert requests_total > 0


def test_faulty_upstream_ends_with_the_same_store(
    engine: Engine, database_url: str, make_ctx: MakeCtx, no_sleep: list[float]
) -> None:
    scenario = big(partners=260, invoices=60)
    faults = "429=0.2,5xx=0.05,drop=0.02,truncate=0.02,seed=7"
    with SandboxServer(scenario, faults=faults) as srv:
        stats = pull(make_ctx(sandbox_settings(srv, database_url, http={"max_attempts": 20})))
        injected = _stats(srv)["faults"]
    faulted = store_snapshot(engine)
    assert sum(injected.values()) > 0 and sum(s.retries for s in stats.values()) >= sum(injected.values()) - 1
    assert no_sleep  # backoff happened, through the patched sleep
    with engine.begin() as conn:
        for table in reversed(pages.models.Base.metadata.sorted_tables):
            conn.execute(table.delete())
    assert faulted == _clean_store(database_url, scenario, make_ctx, engine)


def test_bad_records_are_quarantined_and_the_rest_is_unchanged(
    engine: Engine, database_url: str, make_ctx: MakeCtx, costs_csv: Any
) -> None:
    scenario = big(partners=20, invoices=20)
    bad = with_bad_records(scenario)
    with SandboxServer(bad) as srv:
        ctx = make_ctx(sandbox_settings(srv, database_url, finance={"marketing_costs_file": costs_csv(bad)}))
        stats = pull(ctx)
    with_bad = store_snapshot(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(Quarantine.source, Quarantine.source_id, Quarantine.error)).all()
        quarantined = {(r.source, r.source_id): r.error for r in rows}
        assert set(conn.scalars(select(Quarantine.run_id))) == {ctx.run_id}
    assert "unknown currency" in quarantined[("stripe.invoices", "in_bad_currency")]
    assert "below 0" in quarantined[("stripe.invoices", "in_bad_qty")]
    assert "amount_paid" in quarantined[("stripe.invoices", "in_null_amount")]
    assert "longer than 255" in quarantined[("stripe.customers", "cus_long")]
    assert "bad date" in quarantined[("stripe.refunds", "re_bad_date")]
    assert "missing required field key" in quarantined[("partnerstack.leads", None)]
    assert "expected a string" in quarantined[("partnerstack.partnerships", "part_badbool")]
    cost_errors = sorted(e for (source, _), e in quarantined.items() if source == "finance.marketing_costs")
    assert cost_errors == [
        "amount '12.50' is not an integer in minor units",
        "bad date '2026-13-45'",
        "unknown currency 'zzz'",
    ]
    assert stats["stripe.invoices"].quarantined == 3
    assert "999-99-9999" not in _dump(engine)
    with engine.begin() as conn:
        for table in reversed(pages.models.Base.metadata.sorted_tables):
            conn.execute(table.delete())
    with SandboxServer(scenario) as srv:
        pull(make_ctx(sandbox_settings(srv, database_url, finance={"marketing_costs_file": costs_csv(scenario)})))
    assert with_bad == store_snapshot(engine)


def test_backfill_rereads_a_window_without_moving_cursors(
    engine: Engine, database_url: str, make_ctx: MakeCtx
) -> None:
    with SandboxServer(big(partners=30, invoices=60)) as srv:
        settings = sandbox_settings(srv, database_url)
        pull(make_ctx(settings))
        with engine.connect() as conn:
            before = {r[0]: r[1] for r in conn.execute(select(SyncCursor.stream, SyncCursor.state))}
            conn.execute(text("DELETE FROM st_invoices WHERE id IN ('in_0010', 'in_0050')"))
            conn.commit()
        httpx.post(f"{srv.url}/_sandbox/stats/reset")
        since, until = dt.datetime(2025, 7, 1, tzinfo=dt.UTC), dt.datetime(2025, 8, 1, tzinfo=dt.UTC)
        stats = pull(make_ctx(settings, kind="backfill", since=since, until=until))
    with engine.connect() as conn:
        after = {r[0]: r[1] for r in conn.execute(select(SyncCursor.stream, SyncCursor.state))}
        ids = set(conn.scalars(text("SELECT id FROM st_invoices")))
    assert after == before
    assert "in_0010" in ids  # created 2025-07-01: inside [since, until)
    assert "in_0050" not in ids  # created 2026-01: outside the window
    assert stats["stripe.invoices"].pulled == 11  # days 30..60 step 3, half-open


def test_expired_event_position_falls_back_to_windows_with_a_note(
    engine: Engine, database_url: str, make_ctx: MakeCtx
) -> None:
    with SandboxServer(consio()) as srv:
        settings = sandbox_settings(srv, database_url)
        pull(make_ctx(settings))
        srv.apply({"now": "2026-09-15T00:00:00Z", "stripe": {"customers": [{"id": "cus_NEW", "name": "New"}]}})
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE sync_cursors SET state = :s WHERE stream = 'stripe.events'"),
                {"s": json.dumps({"position": {"id": "evt_gone", "created": 1780000000}})},
            )
        ctx = make_ctx(settings, as_of=dt.datetime(2026, 9, 15, tzinfo=dt.UTC))
        stats = pull(ctx)
    assert any("older than the 30-day retention, so events may be lost; re-read windows since 2026-05-27" in n
               for n in ctx.notes)
    # customers change with no status and Stripe lists no `updated` filter: the whole list, not only cus_NEW
    assert stats["stripe.customers"].pulled == 2
    assert stats["stripe.products"].pulled == 1 and stats["stripe.invoices"].pulled == 0
    assert "cus_NEW" in {r["id"] for r in store_snapshot(engine)["st_customers"]}


def test_wrong_keys_fail_the_run_with_a_clear_message(
    engine: Engine, database_url: str, make_ctx: MakeCtx
) -> None:
    message = r"^PartnerStack rejected the API keys \(401\)$"
    with SandboxServer(consio(), partnerstack_keys="right:keys") as srv, pytest.raises(AuthError, match=message):
        pull(make_ctx(sandbox_settings(srv, database_url)))


def test_batched_concurrency_keeps_order_per_task_and_writes_what_came_before_a_failure() -> None:
    def numbers(emit: Any) -> None:
        for i in range(7):
            emit(i)

    def failing(emit: Any) -> None:
        emit("first")
        raise RuntimeError("boom")

    batches = list(sync.run_concurrently_batched([numbers], 1, max_batch=3))
    assert [i for b in batches for i in b] == list(range(7)) and all(1 <= len(b) <= 3 for b in batches)
    seen: list[Any] = []
    with pytest.raises(RuntimeError, match="boom"):
        for batch in sync.run_concurrently_batched([failing], 1, max_batch=10):
            seen += batch
    assert seen == ["first"]


def test_a_batch_lingers_for_slow_fetches_and_the_last_one_does_not_wait() -> None:
    """Items emitted 20 ms apart (a fetch at the rate limit) share batches when the writer lingers
    for them, up to `max_batch`; the end of the tasks ends the last batch without waiting."""
    import threading
    import time

    def slow(emit: Any) -> None:
        for i in range(6):
            time.sleep(0.02)
            emit(i)

    def batches(linger: float) -> list[list[Any]]:  # not money: seconds
        return list(sync.run_concurrently_batched([slow], 1, max_batch=4, linger=linger))

    assert [i for b in batches(0.0) for i in b] == list(range(6))
    started = time.monotonic()
    lingered = batches(10.0)
    assert lingered == [[0, 1, 2, 3], [4, 5]]  # max_batch bounds a batch; the task's end closes the last
    assert time.monotonic() - started < 5.0
    stop = threading.Event()

    def one_then_wait(emit: Any) -> None:
        emit("a")
        stop.wait(0.3)
        emit("b")

    got = list(sync.run_concurrently_batched([one_then_wait], 1, max_batch=8, linger=0.05))
    assert got == [["a"], ["b"]]  # "a" waited 50 ms for company, then went alone


def test_partnerstack_fetches_the_next_page_while_it_writes_one(
    engine: Engine, database_url: str, make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PartnerStack stream's second page is requested while its first is still being written (at the
    rate limit the writes no longer add to the requests' time), and the store is the same."""
    import threading
    import time

    import adapters.http.client as http_client

    events: list[tuple[str, float]] = []
    lock = threading.Lock()
    original_call, original_write = http_client.HttpClient._call, pages.RecordWriter.write

    def call(self: Any, method: str, path: str, **kw: Any) -> Any:
        if path.endswith("/partnerships"):
            with lock:
                events.append(("request", time.monotonic()))
        return original_call(self, method, path, **kw)

    def write(self: Any, session: Any, source: str, payloads: Any, stats: Any) -> Any:
        if source == "partnerstack.partnerships":
            with lock:
                events.append(("write", time.monotonic()))
            time.sleep(1.0)
            with lock:
                events.append(("written", time.monotonic()))
        return original_write(self, session, source, payloads, stats)

    monkeypatch.setattr(http_client.HttpClient, "_call", call)
    monkeypatch.setattr(pages.RecordWriter, "write", write)
    with SandboxServer(big(partners=260, invoices=3)) as srv:
        stats = pull(make_ctx(sandbox_settings(srv, database_url), kind="backfill"))
    kinds = [kind for kind, _ in events]
    assert kinds.count("write") == 2 and stats["partnerstack.partnerships"].pulled == 260
    requests = [t for kind, t in events if kind == "request"]
    first_written = next(t for kind, t in events if kind == "written")
    assert len(requests) >= 2 and requests[1] < first_written  # page 2 asked for during page 1's write
    assert len(store_snapshot(engine)["ps_partners"]) == 260
