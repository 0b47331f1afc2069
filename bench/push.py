"""``python -m bench.push SIZE [--db sqlite|postgres] [--repo DIR ...] [--rounds N]``: a backfill's push
against the replay of its own POSTs, CPU seconds per POST beside the wall clock, in one run.

Why: on a shared 2-core machine the push's wall ratio to the POST replay mostly says how much more CPU
per POST the connector spends than a bare httpx client (the sandbox runs on the same cores), so the
comparison that survives the load is CPU per POST: the push stage's process CPU (user + system, all
threads) from the backfill's own stage clock, against the bench process's CPU while it replays the
same POST bodies 4 at a time (``bench.ceiling.post_ceiling``). Each ``--repo`` (a checkout; default
this one) runs the same backfill against its own freshly loaded sandbox, rounds alternating between
checkouts so that load drifts hit each alike; the bench's own worker runs beside the checkout's
connector (a scratch directory links the checkout's files and this ``bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.ceiling import post_ceiling
from bench.generate import NOW
from bench.measure import (
    BACKFILL_SINCE,
    DEFAULT_PG,
    PROGRAM,
    PUSH_CONCURRENCY,
    REPO,
    BenchError,
    _iso,
    _ratio,
    _warm,
    drop_database,
    new_database,
    sandbox,
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _tree(checkout: Path, scratch: Path) -> Path:
    """A directory holding the checkout's top-level files and this repository's ``bench``."""
    root = scratch / checkout.name
    root.mkdir()
    for item in checkout.iterdir():
        if item.name not in ("bench", ".git", ".venv"):
            (root / item.name).symlink_to(item)
    (root / "bench").symlink_to(REPO / "bench")
    return root


def _worker(root: Path, *args: str) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the scratch directory (cwd, first on the path) is the checkout
    wrap = os.environ.get("BENCH_PUSH_WRAP", "").split()  # e.g. "py-spy record -f raw -o FILE --" to profile
    done = subprocess.run([*wrap, sys.executable, "-m", "bench.worker", *args], cwd=root, capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        raise BenchError("worker failed:\n" + "\n".join(done.stderr.strip().splitlines()[-15:]))
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(size: str, kind: str, root: Path, *, seed: int, pg_base: str, profile: Path | None) -> dict[str, Any]:
    """One backfill (its POSTs recorded) and the replay of those POSTs, against one fresh sandbox."""
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        workdir = Path(tmp)
        costs, urls = workdir / "costs.csv", workdir / "urls.txt"
        with sandbox(size, seed, costs) as box:
            _warm(box)
            db = new_database(kind, workdir, pg_base)
            try:
                extra = ["--profile", str(profile)] if profile else []
                run = _worker(root, "run", "--db", db.url, "--ps-url", box.partnerstack_url, "--stripe-url",
                              box.stripe_url, "--program", PROGRAM, "--costs", str(costs), "--kind", "backfill",
                              "--as-of", _iso(NOW), "--since", BACKFILL_SINCE, "--record-urls", str(urls), *extra)
            finally:
                drop_database(db)
            posts = [json.loads(line) for line in Path(f"{urls}.posts").read_text().splitlines() if line]
            cpu_started = _cpu()
            replayed = post_ceiling(posts, concurrency=PUSH_CONCURRENCY)
            replay_cpu = _cpu() - cpu_started
    n = max(1, len(posts))
    push_s, push_cpu = run["stages"]["push"], run["stage_cpu_seconds"]["push"]
    return {"posts": len(posts), "pushed": run["pushed"], "push_seconds": push_s, "push_cpu_seconds": push_cpu,
            "replay_seconds": replayed.seconds, "replay_cpu_seconds": replay_cpu,
            "push_cpu_ms_per_post": 1000 * push_cpu / n, "replay_cpu_ms_per_post": 1000 * replay_cpu / n,
            "push_to_replay": _ratio(push_s, replayed.seconds), "cpu_ratio": _ratio(push_cpu, replay_cpu)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.push")
    p.add_argument("size")
    p.add_argument("--db", default="sqlite", choices=("sqlite", "postgres"))
    p.add_argument("--repo", type=Path, action="append", help="a checkout to measure (repeatable; default: this one)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg", default=DEFAULT_PG)
    p.add_argument("--profile-dir", type=Path, help="cProfile of each backfill (main thread only)")
    args = p.parse_args(argv)
    repos = [r.resolve() for r in (args.repo or [REPO])]
    with tempfile.TemporaryDirectory(prefix="bench-push-trees-") as scratch:
        roots = []
        for i, repo in enumerate(repos):
            (Path(scratch) / str(i)).mkdir()
            roots.append(_tree(repo, Path(scratch) / str(i)))
        for rnd in range(args.rounds):
            for repo, root in zip(repos, roots, strict=True):
                profile = args.profile_dir / f"push-{repo.name}-{rnd}.prof" if args.profile_dir else None
                out = measure(args.size, args.db, root, seed=args.seed, pg_base=args.pg, profile=profile)
                line = {"size": args.size, "db": args.db, "repo": str(repo), "round": rnd, **out}
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
