"""One measured piece of the benchmark, run in a process of its own.

Why a process each: the peak RSS the benchmark reports must be the connector's alone (not the
sandbox's, not the generator's, not an earlier phase's), and ``VmHWM`` is a per-process high-water
mark. The parent passes everything on the command line and reads one JSON object from stdout.

    python -m bench.worker run --kind backfill|sync ...   a whole connector run (pull, compute, push)
    python -m bench.worker recompute ...                  rules.compute on the stored data, no pull
    python -m bench.worker insert-ceiling --src URL --dst URL
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import logging
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connector.config import Settings


def peak_rss_mb() -> float:
    """This process's own peak resident set: ``VmHWM`` of ``/proc/self/status`` (Linux), else ``ru_maxrss``.

    Not ``ru_maxrss`` where ``VmHWM`` exists: Linux carries a parent's high-water mark into the child
    across exec (``subprocess`` starts children with vfork, and exec records the parent's peak as the
    child's), so every phase reported at least the benchmark's own RSS at the time it started: an M
    recompute showed 256.6 MB after the push ceiling had read the backfill's 80,108 POST bodies, and
    102 MB (``VmHWM``) when the same store was recomputed from a shell.
    """
    with contextlib.suppress(OSError), Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_settings(args: argparse.Namespace) -> Settings:
    finance: dict[str, Any] = {"marketing_costs_file": args.costs} if getattr(args, "costs", None) else {}
    if getattr(args, "fx", None):
        finance["fx_rates_file"] = args.fx
    return Settings.model_validate({
        "database": {"url": args.db},
        "partnerstack": {"base_url": args.ps_url or "http://127.0.0.1:9/ps", "public_key": "pk_bench",
                         "secret_key": "sk_bench",
                         "requests_per_second": getattr(args, "ps_rate", None) or 0},
        "stripe": {"base_url": args.stripe_url or "http://127.0.0.1:9/stripe", "api_key": "sk_test_bench",
                   **_stripe_limits(args)},
        "program": {"file": args.program},
        "finance": finance,
        "log": {"level": "WARNING", "format": "text"},
        "security": {"fingerprint_key": "bench-worker-fingerprint-key"},  # there is no default key
    })


def _stripe_limits(args: argparse.Namespace) -> dict[str, Any]:
    """No client-side limit (the unlimited phases measure the connector), unless `--rate-limited`:
    then the connector's defaults for a test-mode key (25/s, 25/s per endpoint)."""
    if getattr(args, "rate_limited", False):
        return {}
    return {"requests_per_second": 0, "requests_per_second_per_endpoint": 0}


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class StageClock:
    """Wall time per stage of a run, by wrapping the stage functions the runner looks up, and the
    process's peak RSS when each stage ended (stages run in order, so the pull's figure is the pull's
    own peak and each later one is the peak so far: a stage raised it only if its figure is higher)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}  # this process, all threads (user + system)
        self.peak_rss_mb: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), _cpu_seconds()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + _cpu_seconds() - cpu_started
                self.peak_rss_mb[name] = peak_rss_mb()

        return timed


def _install_stage_clock() -> StageClock:
    import connector.ledger.compute
    import connector.pull
    import connector.run.runner

    clock = StageClock()
    # the names the runner calls each stage by
    for stage, module, name in (
        ("pull", connector.pull, "pull"),
        ("compute", connector.ledger.compute, "compute"),
        ("push", connector.run.runner, "push"),
    ):
        setattr(module, name, clock.wrap(stage, getattr(module, name)))
    return clock


@contextlib.contextmanager
def _record_requests(path: str | None) -> Iterator[None]:
    """Log every GET URL the connector sends, and every POST's URL and body beside it (`PATH.posts`,
    one JSON line each), for the replay ceilings. No headers: keys stay out.

    Written line by line as requests go out, not gathered in lists: at L the 790 k POST bodies
    held until the end were over 1 GB of the backfill's peak RSS, which is the connector's figure.
    """
    import threading

    import httpx

    if path is None:
        yield
        return
    lock = threading.Lock()  # the push sends from several threads
    original = httpx.Client.send
    with Path(path).open("w", encoding="utf-8") as gets, Path(f"{path}.posts").open("w", encoding="utf-8") as posts:


        def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            if request.method == "GET":
                with lock:
                    gets.write(f"{request.url}\n")
            elif request.method == "POST":
                line = json.dumps({"url": str(request.url), "body": request.content.decode("utf-8")})
                with lock:
                    posts.write(line + "\n")
            return original(self, request, **kwargs)

        httpx.Client.send = send  # type: ignore[method-assign]
        try:
            yield
        finally:
            httpx.Client.send = original  # type: ignore[method-assign]


def cmd_run(args: argparse.Namespace) -> dict[str, Any]:
    from connector.run.runner import run_once

    settings = make_settings(args)
    clock = _install_stage_clock()
    with _record_requests(args.record_urls):
        started = time.perf_counter()
        outcome = run_once(
            settings, kind=args.kind, as_of=_parse_time(args.as_of), since=_parse_time(args.since),
            until=_parse_time(args.until),
        )
        seconds = time.perf_counter() - started
    push = outcome.push
    return {
        "seconds": seconds,
        "stages": clock.seconds,
        "stage_cpu_seconds": clock.cpu_seconds,
        "stage_peak_rss_mb": clock.peak_rss_mb,
        "status": outcome.status,
        "pulled": outcome.pulled,
        "records": sum(outcome.pulled.values()),
        "entries_appended": outcome.entries_appended,
        "pushed": push.pushed if push is not None else 0,
        "compute_mode": getattr(outcome.compute, "mode", None),
        "customers_recomputed": getattr(outcome.compute, "customers_recomputed", None),
    }


def cmd_recompute(args: argparse.Namespace) -> dict[str, Any]:
    """The whole ledger recomputed from the store: what a rules change or a replay costs."""
    from connector.context import RunContext
    from connector.ledger.compute import compute
    from connector.rules.program import load_program
    from connector.store.db import make_engine, session_factory

    settings = make_settings(args)
    program = load_program(settings.program.file)
    engine = make_engine(settings.database.url)
    try:
        as_of = _parse_time(args.as_of) or dt.datetime.now(dt.UTC)
        ctx = RunContext(settings=settings, engine=engine, sessions=session_factory(engine),
                         run_id=str(uuid.uuid4()), kind="sync", as_of=as_of)
        started = time.perf_counter()
        outcome = compute(ctx, program, incremental=args.incremental)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"seconds": seconds, "program": program.name, "mode": outcome.mode,
            "customers_recomputed": outcome.customers_recomputed, "appended": outcome.entries_appended,
            "statuses_changed": outcome.statuses_changed}


def cmd_pull(args: argparse.Namespace) -> dict[str, Any]:
    """A backfill's pull alone (no compute, no push): what the rate-limited phase times."""
    from connector.context import RunContext
    from connector.pull import pull
    from connector.store.db import make_engine, session_factory

    settings = make_settings(args)
    engine = make_engine(settings.database.url)
    try:
        as_of = _parse_time(args.as_of) or dt.datetime.now(dt.UTC)
        ctx = RunContext(settings=settings, engine=engine, sessions=session_factory(engine),
                         run_id=str(uuid.uuid4()), kind="backfill", as_of=as_of, since=_parse_time(args.since))
        from bench.timeline import recording

        with _record_requests(getattr(args, "record_urls", None)), recording(getattr(args, "timeline", None)):
            started, cpu_started = time.perf_counter(), _cpu_seconds()
            stats = pull(ctx)
            seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    finally:
        engine.dispose()
    requests = {"stripe": 0, "partnerstack": 0}
    for stream, stat in stats.items():
        api = stream.split(".", 1)[0]
        if api in requests:
            requests[api] += stat.requests
    return {"seconds": seconds, "cpu_seconds": cpu, "records": sum(s.pulled for s in stats.values()),
            "requests": requests}


def _cpu_seconds() -> float:
    """This process's CPU time, all threads (user + system): the connector's own cost, which the
    wall clock mixes with the sandbox's and the database server's on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cmd_insert_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    from bench.ceiling import insert_ceiling
    from connector.store.db import make_engine

    source, target = make_engine(args.src), make_engine(args.dst)
    try:
        result = insert_ceiling(source, target)
    finally:
        source.dispose()
        target.dispose()
    return {"seconds": result.seconds, "rows": result.rows, "tables": result.tables}


COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "run": cmd_run,
    "recompute": cmd_recompute,
    "pull": cmd_pull,
    "insert-ceiling": cmd_insert_ceiling,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.worker")
    p.add_argument("command", choices=sorted(COMMANDS))
    p.add_argument("--db")
    p.add_argument("--ps-url")
    p.add_argument("--stripe-url")
    p.add_argument("--program", default="programs/consio.toml")
    p.add_argument("--costs")
    p.add_argument("--fx", help="finance's FX rate file (bench.serve --fx-csv writes the world's)")
    p.add_argument("--kind", default="sync", choices=("sync", "backfill"))
    p.add_argument("--as-of")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--src")
    p.add_argument("--dst")
    p.add_argument("--record-urls", help="write every GET URL the run sent to this file (and its POSTs to FILE.posts)")
    p.add_argument("--profile", help="write cProfile stats of the measured call to this file")
    p.add_argument("--timeline", help="pull: log when each request, stream phase and write batch ran (bench.timeline)")
    p.add_argument("--rate-limited", action="store_true",
                   help="Stripe at the connector's own default limits (25/s, 25/s per endpoint) instead of none")
    p.add_argument("--ps-rate", type=float, help="PartnerStack requests per second (default: no limit)")
    p.add_argument("--incremental", action="store_true",
                   help="recompute: only what changed since the last pass (as a scheduled sync does)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    command = COMMANDS[args.command]
    if args.profile:
        profiler = cProfile.Profile()
        result = profiler.runcall(command, args)
        profiler.dump_stats(args.profile)
        Path(args.profile).with_suffix(".txt").write_text(_top(args.profile))
    else:
        result = command(args)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    return 0


def _top(stats_file: str, lines: int = 40) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(stats_file, stream=out)
    stats.sort_stats("cumulative").print_stats(lines)
    stats.sort_stats("tottime").print_stats(lines)
    return out.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
