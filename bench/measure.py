"""``bench/run SIZE``: one benchmark of the connector against a generated world, on SQLite and PostgreSQL.

Why this shape: every figure is taken in the same process tree in one go, so the ratios compare like
with like. The sandbox runs in its own process (its memory and CPU are not the connector's); each
connector phase runs in a fresh worker process, so its peak RSS is its own. In order:

1. the sandbox alone: a bare httpx walk of every list, sequentially and with the connector's concurrency;
2. per database, against a sandbox of its own: full backfill (recording every GET it sends), the
   replay of exactly those GETs (the fetch ceiling), a bare Core insert of the rows it stored (the
   insert ceiling), a first sync (which reads what a backfill could not hand over, see
   ``connector.pull.handover``, plus the rewards the backfill pushed), and an
   incremental sync with no change;
3. 1 % of the customers change through ``POST /_sandbox/apply``, then an incremental sync;
4. per database, a recompute of the whole ledger from the store.

Results go to a Rich table and to ``bench/results/<size>-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from bench.ceiling import fetch_ceiling, post_ceiling, replay_ceiling
from bench.generate import NOW, change_set, size_of

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKFILL_SINCE = "2020-01-01T00:00:00Z"
PROGRAM = "programs/consio.toml"
CONCURRENCY = 4  # the connector's default `stripe.concurrency`
PUSH_CONCURRENCY = 4  # the connector's default `partnerstack.push_concurrency`
POST_CEILING_SAMPLE = 40_000
"""Most POSTs the push ceiling replays; beyond it an evenly spaced sample is timed and scaled to all
(the server's cost per create does not depend on how many came before: at L the full replay alone
would take most of half an hour)."""

# Targets of issue #7 (on the 2-core reference machine).
TARGET_BACKFILL_TO_FETCH = 1.5
TARGET_NOCHANGE_SECONDS_AT_L = 3.0
TARGET_CHANGE_SHARE = 0.10
TARGET_PEAK_RSS_MB = 500.0
TARGET_RECOMPUTE_SECONDS_AT_L = 60.0


class BenchError(Exception):
    """A phase of the benchmark failed; the message names it and carries the worker's stderr tail."""


@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    info: dict[str, Any]

    @property
    def partnerstack_url(self) -> str:
        return str(self.info["partnerstack_url"])

    @property
    def stripe_url(self) -> str:
        return str(self.info["stripe_url"])

    @property
    def url(self) -> str:
        return str(self.info["url"])


def fx_of(costs_csv: Path) -> Path:
    """Finance's FX rate file of the world, written by the sandbox beside its cost file."""
    return costs_csv.with_name("fx.csv")


@contextlib.contextmanager
def sandbox(size: str, seed: int, costs_csv: Path, extra: tuple[str, ...] = ()) -> Iterator[Sandbox]:
    """The sandbox in its own process; it generates the world itself (nothing of it touches disk)."""
    cmd = [sys.executable, "-m", "bench.serve", size, "--seed", str(seed), "--costs-csv", str(costs_csv),
           "--fx-csv", str(fx_of(costs_csv)), *extra]
    process = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=_env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise BenchError(f"sandbox process exited with {process.wait()} before serving")
        yield Sandbox(process, json.loads(line))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_peak_rss_mb(pid: int) -> float | None:
    """Peak RSS of a running process from ``/proc/<pid>/status`` (``VmHWM``), without psutil."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def worker(*args: str, profile: Path | None = None) -> dict[str, Any]:
    """Run one phase in a fresh process; its last stdout line is its JSON result."""
    cmd = [sys.executable, "-m", "bench.worker", *args]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise BenchError(f"worker {args[0]} failed ({done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------ databases


@dataclass
class Database:
    kind: str  # sqlite | postgres
    url: str
    cleanup: list[Any] = field(default_factory=list)


def _pg_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def new_database(kind: str, workdir: Path, pg_base: str, *, migrate: bool = True) -> Database:
    """A fresh database (SQLite file or PostgreSQL schema), migrated unless told otherwise."""
    from connector.store.db import make_engine, upgrade

    if kind == "sqlite":
        db = Database(kind, f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}")
    else:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(pg_base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        db = Database(kind, _pg_schema_url(pg_base, schema), cleanup=[(pg_base, schema)])
    if migrate:
        engine = make_engine(db.url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    return db


def drop_database(db: Database) -> None:
    if db.kind == "sqlite":
        path = Path(db.url.removeprefix("sqlite:///"))
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    for pg_base, schema in db.cleanup:
        admin = create_engine(pg_base)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# ------------------------------------------------------------------ phases


def _rate(records: int, seconds: float) -> float:
    return records / seconds if seconds > 0 else 0.0


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _run_args(db: Database, box: Sandbox, costs: Path, kind: str, as_of: str) -> list[str]:
    args = ["run", "--kind", kind, "--db", db.url, "--ps-url", box.partnerstack_url, "--stripe-url",
            box.stripe_url, "--program", PROGRAM, "--costs", str(costs), "--fx", str(fx_of(costs)), "--as-of", as_of]
    if kind == "backfill":
        args += ["--since", BACKFILL_SINCE]
    return args


def _warm(box: Sandbox) -> None:
    """Touch the changed lists once so the sandbox re-sorts them now, not inside the timed sync."""
    with httpx.Client(timeout=120) as client:
        for path in ("invoices", "invoice_payments", "events", "charges", "customers"):
            client.get(f"{box.stripe_url}/{path}", params={"limit": 1},
                       headers={"Authorization": "Bearer sk_test_bench"})
        client.get(f"{box.partnerstack_url}/customers", params={"limit": 1}, auth=("pk_bench", "sk_bench"))


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def run_benchmark(
    size: str,
    *,
    databases: tuple[str, ...] = ("sqlite", "postgres"),
    seed: int = 1,
    pg_base: str = DEFAULT_PG,
    profile_dir: Path | None = None,
    log: Any = None,
    walk: bool = True,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
    keep: Path | None = None,
) -> dict[str, Any]:
    """Every figure of the benchmark as one JSON-able dict; `walk=False` skips the bare list walks
    (the replay of the backfill's own GETs stays the fetch ceiling).

    ``checkpoint`` gets the figures so far after every phase, so a run stopped at L (hours) keeps
    what it measured; ``keep`` leaves each database there for later measurements against it (the
    SQLite file in that directory, the PostgreSQL schema named in its ``postgres.url``).
    """
    say = log or (lambda message: None)
    size = size.upper()
    spec = size_of(size)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    workdir = keep if keep is not None else Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
    saved = checkpoint or (lambda figures: None)
    costs = workdir / "costs.csv"
    created: list[Database] = []
    result: dict[str, Any] = {
        "size": size,
        "seed": seed,
        "started_at": _iso(dt.datetime.now(dt.UTC)),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "git_commit": _git_commit(),
        "scenario": {"partners": spec.partners, "customers": spec.customers, "invoices": spec.invoices},
        "ceiling": {},
        "databases": {},
    }

    def profile(name: str) -> Path | None:
        return profile_dir / f"{size}-{name}.prof" if profile_dir is not None else None

    try:
        now = _iso(NOW)
        for kind in databases:
            # A sandbox per database: the rewards one run pushes must not be re-read by the other's syncs.
            say(f"[{size}/{kind}] generating the world and starting the sandbox")
            with sandbox(size, seed, costs) as box:
                if kind == databases[0]:
                    _sandbox_alone(result, box, say, walk=walk)
                db = new_database(kind, workdir, pg_base)
                if keep is None:
                    created.append(db)
                else:
                    (keep / f"{kind}.url").write_text(db.url + "\n")
                result["databases"][kind] = {}
                _phases(result, result["databases"][kind], box, db, costs, workdir, pg_base, created, say,
                        profile, saved)
                result["databases"][kind]["sandbox_peak_rss_mb"] = process_peak_rss_mb(box.process.pid)
            say(f"[{size}/{kind}] recompute of the whole ledger")
            result["databases"][kind]["recompute"] = worker(
                "recompute", "--db", db.url, "--program", PROGRAM, "--costs", str(costs), "--fx", str(fx_of(costs)),
                "--as-of", now,
                profile=profile(f"{kind}-recompute"),
            )
            saved(result)
    finally:
        for db in created:
            with contextlib.suppress(Exception):
                drop_database(db)
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    result["finished_at"] = _iso(dt.datetime.now(dt.UTC))
    add_ratios(result)
    return result


def _sandbox_alone(result: dict[str, Any], box: Sandbox, say: Any, *, walk: bool = True) -> None:
    records = box.info["records"]
    result["scenario"].update({
        "records": records,
        "total_records": sum(records.values()),
        "generate_seconds": box.info["generate_seconds"],
        "sandbox_load_seconds": box.info["load_seconds"],
        "sandbox_peak_rss_mb": box.info["peak_rss_mb"],
    })
    if not walk:
        return
    say(f"[{result['size']}] fetch ceiling (sandbox alone)")
    for label, concurrency in (("fetch_sequential", 1), ("fetch_parallel", CONCURRENCY)):
        fetched = fetch_ceiling(box.partnerstack_url, box.stripe_url, concurrency=concurrency)
        result["ceiling"][label] = {
            "seconds": fetched.seconds, "concurrency": concurrency, "pages": fetched.pages,
            "records": fetched.records, "bytes": fetched.bytes,
            "records_per_second": _rate(fetched.records, fetched.seconds),
        }


def _phases(
    result: dict[str, Any], out: dict[str, Any], box: Sandbox, db: Database, costs: Path, workdir: Path,
    pg_base: str, created: list[Database], say: Any, profile: Any, saved: Callable[[dict[str, Any]], None],
) -> None:
    """Backfill, ceilings, first sync, no-change sync, 1 % change and its sync, on one database, into ``out``."""
    size, kind, now = result["size"], db.kind, _iso(NOW)
    urls_file = workdir / f"backfill-urls-{kind}.txt"
    say(f"[{size}/{kind}] full backfill")
    backfill = worker(*_run_args(db, box, costs, "backfill", now), "--record-urls", str(urls_file),
                      profile=profile(f"{kind}-backfill"))
    backfill["records_per_second"] = _rate(backfill["records"], backfill["seconds"])
    out["backfill"] = backfill
    saved(result)
    if "replay" not in result["ceiling"]:
        say(f"[{size}] fetch ceiling (replay of the backfill's own GETs)")
        urls = [u for u in urls_file.read_text().splitlines() if u]
        replay = replay_ceiling(urls, concurrency=CONCURRENCY)
        result["ceiling"]["replay"] = {
            "seconds": replay.seconds, "concurrency": replay.concurrency, "pages": replay.pages,
            "bytes": replay.bytes,
        }
    say(f"[{size}/{kind}] insert ceiling")
    target = new_database(kind, workdir, pg_base, migrate=False)
    created.append(target)
    out["insert_ceiling"] = worker("insert-ceiling", "--src", db.url, "--dst", target.url)
    drop_database(target)
    created.remove(target)
    saved(result)
    say(f"[{size}/{kind}] first sync (after the backfill: what is new plus the rewards it pushed)")
    out["initial_sync"] = worker(*_run_args(db, box, costs, "sync", now))
    saved(result)
    say(f"[{size}/{kind}] incremental sync, nothing changed")
    out["incremental_nochange"] = worker(*_run_args(db, box, costs, "sync", now), profile=profile(f"{kind}-nochange"))
    saved(result)
    say(f"[{size}/{kind}] applying a 1 % change")
    partial = change_set(size, result["seed"])
    with httpx.Client(timeout=600) as client:
        applied = client.post(f"{box.url}/_sandbox/apply", content=json.dumps(partial))
        applied.raise_for_status()
    _warm(box)
    changed_at = str(partial["now"])
    result["change"] = {"customers": len(partial["stripe"]["invoices"]), "now": changed_at,
                        "sandbox": applied.json().get("changed")}
    say(f"[{size}/{kind}] incremental sync, 1 % changed")
    out["incremental_1pct"] = worker(*_run_args(db, box, costs, "sync", changed_at), profile=profile(f"{kind}-1pct"))
    saved(result)
    if "post_replay" not in result["ceiling"]:
        # Last: it leaves duplicate rewards in this sandbox, which no later phase reads.
        say(f"[{size}] push ceiling (the backfill's own POSTs replayed)")
        posts = [json.loads(line) for line in Path(f"{urls_file}.posts").read_text().splitlines() if line]
        step = max(1, -(-len(posts) // POST_CEILING_SAMPLE))
        posted = post_ceiling(posts[::step], concurrency=PUSH_CONCURRENCY)
        scale = len(posts) / posted.requests if posted.requests else 1.0
        result["ceiling"]["post_replay"] = {
            "seconds": posted.seconds * scale, "concurrency": posted.concurrency, "requests": len(posts),
            "timed_requests": posted.requests, "timed_seconds": posted.seconds,
        }
        saved(result)


def run_sandbox_only(size: str, *, seed: int = 1, log: Any = None) -> dict[str, Any]:
    """Only the sandbox and the bare fetch loop: can the sandbox serve SIZE without being the bottleneck?"""
    say = log or (lambda message: None)
    size = size.upper()
    spec = size_of(size)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
    result: dict[str, Any] = {
        "size": size, "seed": seed, "started_at": _iso(dt.datetime.now(dt.UTC)), "sandbox_only": True,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "git_commit": _git_commit(),
        "scenario": {"partners": spec.partners, "customers": spec.customers, "invoices": spec.invoices},
        "ceiling": {}, "databases": {},
    }
    try:
        say(f"[{size}] generating the world and starting the sandbox")
        with sandbox(size, seed, workdir / "costs.csv") as box:
            _sandbox_alone(result, box, say)
            result["scenario"]["sandbox_peak_rss_mb_after_serving"] = process_peak_rss_mb(box.process.pid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["finished_at"] = _iso(dt.datetime.now(dt.UTC))
    return result


# Stripe's test-mode limits (and the connector's defaults for a test key): per API and per endpoint.
RATE_LIMIT = 25.0


def run_rate_limited(size: str, *, databases: tuple[str, ...], seed: int, pg_base: str,
                     log: Any = None, profile_dir: Path | None = None) -> dict[str, Any]:
    """A backfill's pull against a sandbox enforcing Stripe's test-mode limits (25/s per API, 25/s per
    endpoint, 429 over them), the connector at its own default limits for a test key (and PartnerStack at
    the same 25/s). Reports wall time over the physical floor (requests answered ÷ the allowed rate; the
    APIs are read one after the other, so their floors add up; each bucket starts with one second's burst)
    and the share of requests answered 429. With `profile_dir`, each pull's cProfile goes to
    `rate-limited-<db>.prof` there and its timeline to `rate-limited-<db>.timeline.jsonl`
    (`python -m bench.timeline FILE` summarises it)."""
    say = log or (lambda _m: None)
    out: dict[str, Any] = {"size": size, "rate_limit": RATE_LIMIT, "databases": {}, "commit": _git_commit()}

    def timeline(kind: str) -> tuple[str, ...]:
        return ("--timeline", str(profile_dir / f"rate-limited-{kind}.timeline.jsonl")) if profile_dir else ()

    for kind in databases:
        with tempfile.TemporaryDirectory(prefix="bench-rl-") as tmp:
            workdir = Path(tmp)
            costs = workdir / "costs.csv"
            limits = ("--rate-limit", str(RATE_LIMIT), "--rate-limit-endpoint", str(RATE_LIMIT))
            with sandbox(size, seed, costs, limits) as box:
                db = new_database(kind, workdir, pg_base)
                try:
                    say(f"{kind}: rate-limited backfill pull at {RATE_LIMIT:g}/s")
                    figures = worker("pull", "--db", db.url, "--ps-url", box.partnerstack_url, "--stripe-url",
                                     box.stripe_url, "--program", PROGRAM, "--costs", str(costs), "--as-of",
                                     _iso(NOW), "--since", BACKFILL_SINCE, "--rate-limited",
                                     "--ps-rate", str(RATE_LIMIT), *timeline(kind),
                                     profile=profile_dir / f"rate-limited-{kind}.prof" if profile_dir else None)
                    stats = httpx.get(f"{box.url}/_sandbox/stats", timeout=30).json()
                finally:
                    drop_database(db)
        sent = {api: int(stats["requests"][api]) for api in ("stripe", "partnerstack")}
        limited = {api: int(stats["rate_limited"][api]) for api in ("stripe", "partnerstack")}
        # each API's bucket starts full (one second of requests), then refills at the rate
        floor = sum(max(0, sent[api] - limited[api] - RATE_LIMIT) for api in sent) / RATE_LIMIT
        out["databases"][kind] = {
            "seconds": figures["seconds"],
            "records": figures["records"],
            "requests": sent,
            "rate_limited": limited,
            "floor_seconds": floor,
            "over_floor": _ratio(figures["seconds"], floor),
            "share_429": (sum(limited.values()) / sum(sent.values())) if sum(sent.values()) else 0.0,
            "stripe_share_429": limited["stripe"] / sent["stripe"] if sent["stripe"] else 0.0,
        }
        say(f"{kind}: {json.dumps(out['databases'][kind])}")
    return out


def add_ratios(result: dict[str, Any]) -> None:
    """The connector's times as ratios to the ceilings, and the issue's targets met or not."""
    ceiling = result["ceiling"]
    fetch = ceiling.get("replay", ceiling.get("fetch_parallel", {})).get("seconds", 0.0)
    posts = ceiling.get("post_replay", {}).get("seconds", 0.0)
    for out in result["databases"].values():
        backfill = out["backfill"]["seconds"]
        insert = out.get("insert_ceiling", {}).get("seconds", 0.0)
        pull = out["backfill"].get("stages", {}).get("pull", 0.0)
        push = out["backfill"].get("stages", {}).get("push", 0.0)
        out["ratios"] = {
            "backfill_to_fetch": _ratio(backfill, fetch),
            # The API work a backfill cannot avoid: its GETs and the POST of every reward it owes.
            "backfill_to_fetch_plus_post": _ratio(backfill, fetch + posts),
            "push_to_post": _ratio(push, posts),
            "backfill_to_insert": _ratio(backfill, insert),
            "backfill_to_fetch_plus_insert": _ratio(backfill, fetch + insert),
            "pull_to_fetch": _ratio(pull, fetch),
            "change_to_backfill": _ratio(out.get("incremental_1pct", {}).get("seconds", 0.0), backfill),
            "first_sync_to_backfill": _ratio(out.get("initial_sync", {}).get("seconds", 0.0), backfill),
        }
        peak = max(out[p]["peak_rss_mb"] for p in ("backfill", "initial_sync", "incremental_nochange",
                                                  "incremental_1pct", "recompute") if p in out)
        at_l = result["size"] == "L"
        ratios = out["ratios"]
        out["targets"] = {
            "backfill_within_1_5x_fetch": ratios["backfill_to_fetch"] is not None
            and ratios["backfill_to_fetch"] <= TARGET_BACKFILL_TO_FETCH,
            "backfill_within_1_5x_fetch_plus_post": ratios["backfill_to_fetch_plus_post"] is not None
            and ratios["backfill_to_fetch_plus_post"] <= TARGET_BACKFILL_TO_FETCH,
            "nochange_under_3s": out.get("incremental_nochange", {}).get("seconds", 1e9)
            < TARGET_NOCHANGE_SECONDS_AT_L if at_l else None,
            "change_under_10pct_of_full": ratios["change_to_backfill"] is not None
            and ratios["change_to_backfill"] < TARGET_CHANGE_SHARE,
            "peak_rss_under_500mb": peak < TARGET_PEAK_RSS_MB,
            "recompute_under_60s": out.get("recompute", {}).get("seconds", 1e9) < TARGET_RECOMPUTE_SECONDS_AT_L
            if at_l else None,
        }
        out["peak_rss_mb"] = peak


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


# ------------------------------------------------------------------ output


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}"
    return f"{value:,}{unit}"


def render_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=f"Benchmark {result['size']}: {result['scenario'].get('total_records', 0):,} upstream records")
    table.add_column("measure")
    kinds = list(result["databases"])
    for kind in kinds:
        table.add_column(kind, justify="right")
    ceiling = result["ceiling"]
    for label, key in (("fetch ceiling, sequential walk (s)", "fetch_sequential"),
                       ("fetch ceiling, parallel walk (s)", "fetch_parallel"),
                       ("fetch ceiling, replay of backfill GETs (s)", "replay"),
                       ("push ceiling, replay of backfill POSTs (s)", "post_replay")):
        value = ceiling.get(key, {}).get("seconds")
        table.add_row(label, *[_fmt(value)] * len(kinds))

    def row(label: str, path: tuple[str, ...], unit: str = "") -> None:
        cells = []
        for kind in kinds:
            node: Any = result["databases"][kind]
            for step in path:
                node = node.get(step) if isinstance(node, dict) else None
            cells.append(_fmt(node, unit))
        table.add_row(label, *cells)

    row("insert ceiling, bare Core insert (s)", ("insert_ceiling", "seconds"))
    row("full backfill (s)", ("backfill", "seconds"))
    row("  pull (s)", ("backfill", "stages", "pull"))
    row("  compute (s)", ("backfill", "stages", "compute"))
    row("  push (s)", ("backfill", "stages", "push"))
    row("  records per second", ("backfill", "records_per_second"))
    row("  peak RSS (MB)", ("backfill", "peak_rss_mb"))
    row("    by the end of the pull", ("backfill", "stage_peak_rss_mb", "pull"))
    row("    by the end of the compute", ("backfill", "stage_peak_rss_mb", "compute"))
    row("  ratio to fetch ceiling", ("ratios", "backfill_to_fetch"))
    row("  ratio to fetch + push ceilings", ("ratios", "backfill_to_fetch_plus_post"))
    row("  push: ratio to push ceiling", ("ratios", "push_to_post"))
    row("  ratio to insert ceiling", ("ratios", "backfill_to_insert"))
    row("  ratio to fetch + insert", ("ratios", "backfill_to_fetch_plus_insert"))
    row("first sync (s)", ("initial_sync", "seconds"))
    row("  records read", ("initial_sync", "records"))
    row("  share of full backfill", ("ratios", "first_sync_to_backfill"))
    row("incremental, no change (s)", ("incremental_nochange", "seconds"))
    row("incremental, 1 % changed (s)", ("incremental_1pct", "seconds"))
    row("  share of full backfill", ("ratios", "change_to_backfill"))
    row("recompute whole ledger (s)", ("recompute", "seconds"))
    for label, phase in (("first sync", "initial_sync"), ("incremental, no change", "incremental_nochange"),
                         ("incremental, 1 % changed", "incremental_1pct"), ("recompute", "recompute")):
        row(f"peak RSS, {label} (MB)", (phase, "peak_rss_mb"))
    row("peak RSS, any phase (MB)", ("peak_rss_mb",))
    return table


def results_path(size: str) -> Path:
    """Where a run's JSON goes unless `--json` says: `bench/results/<size>-<UTC time>.json`."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return RESULTS / f"{size.upper()}-{stamp}.json"


def write_json(result: dict[str, Any], path: Path | None = None) -> Path:
    if path is None:
        path = results_path(result["size"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    p = argparse.ArgumentParser(prog="bench/run", description="Benchmark the connector at a generated size.")
    p.add_argument("size", help="XS, S, M or L")
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--json", type=Path, help="write the results here (default bench/results/<size>-<time>.json)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    p.add_argument("--profile-dir", type=Path, help="cProfile each measured phase into this directory")
    p.add_argument("--sandbox-only", action="store_true", help="measure only the sandbox and the bare fetch loop")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="work in DIR, leave the databases there (SQLite file, PostgreSQL schema in DIR/postgres.url)")
    p.add_argument("--no-walk", action="store_true",
                   help="skip the bare list walks (at L they take minutes; the replay ceiling is still measured)")
    p.add_argument("--rate-limited", action="store_true",
                   help="only the rate-limited phase: a backfill pull at Stripe's test-mode limits (25/s, 25/s per "
                        "endpoint, enforced by the sandbox), reported against the physical floor")
    args = p.parse_args(argv)
    console = Console(stderr=True)
    try:
        size_of(args.size)
    except ValueError as exc:
        console.print(f"bench/run: {exc}")
        return 2
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    if args.profile_dir is not None:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.rate_limited:
        result = run_rate_limited(args.size, databases=databases, seed=args.seed, pg_base=args.pg_url,
                                  log=lambda m: console.print(f"[dim]{m}[/dim]"), profile_dir=args.profile_dir)
        result["bench_seconds"] = time.perf_counter() - started
        path = write_json(result, args.json or results_path(f"{args.size}-rate-limited"))
        Console().print_json(data=result["databases"])
        console.print(f"results: {path}")
        return 0
    if args.sandbox_only:
        result = run_sandbox_only(args.size, seed=args.seed, log=lambda m: console.print(f"[dim]{m}[/dim]"))
        result["bench_seconds"] = time.perf_counter() - started
        path = write_json(result, args.json)
        Console().print_json(data={"scenario": result["scenario"], "ceiling": result["ceiling"]})
        console.print(f"results: {path}")
        return 0
    path = args.json or results_path(args.size)

    def checkpoint(figures: dict[str, Any]) -> None:
        write_json({**figures, "partial": True}, path)

    try:
        result = run_benchmark(args.size, databases=databases, seed=args.seed, pg_base=args.pg_url,
                               profile_dir=args.profile_dir, log=lambda m: console.print(f"[dim]{m}[/dim]"),
                               walk=not args.no_walk, checkpoint=checkpoint, keep=args.keep)
    except BenchError as exc:
        console.print(f"[red]benchmark failed:[/red] {exc}")
        return 1
    result["bench_seconds"] = time.perf_counter() - started
    path = write_json(result, path)
    Console().print(render_table(result))
    console.print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
