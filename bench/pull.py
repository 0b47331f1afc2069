"""``python -m bench.pull SIZE [--db sqlite|postgres|both] [--profile-dir DIR]``: a backfill's pull alone
against its GET replay, on each database.

Why: the pull's CPU per record decides how close it runs to the APIs' floor (issue 20, item 1), and the
full ``bench/run`` spends most of its time pushing and computing. This times only what a pull change
moves: a backfill's pull into a fresh store (its GETs recorded), then the replay of exactly those GETs
four at a time (the fetch ceiling), both against the same freshly loaded sandbox, so the ratio
``pull ÷ replay`` compares like with like within one run. ``--profile-dir`` writes the pull's cProfile
(``pull-<db>.prof`` and a text top list beside it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.ceiling import replay_ceiling
from bench.generate import NOW
from bench.measure import (
    BACKFILL_SINCE,
    CONCURRENCY,
    DEFAULT_PG,
    PROGRAM,
    _iso,
    _ratio,
    _warm,
    drop_database,
    new_database,
    sandbox,
    worker,
)


def measure(size: str, kind: str, *, seed: int, pg_base: str, profile_dir: Path | None) -> dict[str, Any]:
    """One database: pull (recorded), then the replay of its GETs, against one sandbox."""
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        workdir = Path(tmp)
        costs = workdir / "costs.csv"
        urls_file = workdir / "gets.txt"
        with sandbox(size, seed, costs) as box:
            _warm(box)
            db = new_database(kind, workdir, pg_base)
            try:
                profile = profile_dir / f"pull-{kind}.prof" if profile_dir else None
                extra = ["--profile", str(profile)] if profile else []
                figures = worker("pull", "--db", db.url, "--ps-url", box.partnerstack_url, "--stripe-url",
                                 box.stripe_url, "--program", PROGRAM, "--costs", str(costs), "--as-of",
                                 _iso(NOW), "--since", BACKFILL_SINCE, "--record-urls", str(urls_file), *extra)
            finally:
                drop_database(db)
            urls = [u for u in urls_file.read_text().splitlines() if u]
            replay = replay_ceiling(urls, concurrency=CONCURRENCY)
    return {"pull_seconds": figures["seconds"], "pull_cpu_seconds": figures["cpu_seconds"],
            "records": figures["records"], "pages": len(urls),
            "replay_seconds": replay.seconds, "pull_to_replay": _ratio(figures["seconds"], replay.seconds),
            "peak_rss_mb": figures["peak_rss_mb"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pull")
    p.add_argument("size")
    p.add_argument("--db", default="sqlite", choices=("sqlite", "postgres", "both"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg", default=DEFAULT_PG)
    p.add_argument("--profile-dir", type=Path)
    args = p.parse_args(argv)
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        out = measure(args.size, kind, seed=args.seed, pg_base=args.pg, profile_dir=args.profile_dir)
        sys.stdout.write(json.dumps({"size": args.size, "db": kind, **out}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
