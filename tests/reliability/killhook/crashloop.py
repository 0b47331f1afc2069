"""Test-only launcher: `connector sync` again and again, each run a forked child that may SIGKILL itself.

Why a launcher: importing the connector costs about a second; forking children from one
process that has imported it already makes 20+ real kills cheap. Each child is a real
process that dies by SIGKILL with no cleanup; the next child starts from what the database
and the sandbox hold, as a restarted container would.

Usage: `python crashloop.py JSON` with {"config", "as_of", "out_dir", "kills", "points", "seed"}:
children run with a kill point drawn from `random.Random(seed)` in [1, points] (with
`"in_push": true`, counted from the moment the child's push stage begins, so every kill hits
a push however much of the work earlier children did) until `kills` of them were killed, then
one more runs to the end (`kills: 0, points: 0`: a single counting run). Prints one JSON line
per child: {"kill_at", "exit" (negative: killed by that signal), "points" (crash points
passed; absent when killed), "push_start" (crash points passed when the push began), "log"}.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path


def preload() -> None:
    """Everything a run imports, so the children do not pay for it."""
    import psycopg  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
    import sqlalchemy.dialects.sqlite  # noqa: F401

    import connector.ledger.compute
    import connector.pull
    import connector.push.outbox
    import connector.report
    import connector.run.cli
    import connector.run.runner

    del connector


def child(config: str, as_of: str, kill_at: int, log: Path, points_file: Path, in_push: bool) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from killpoints import install, passed  # type: ignore[import-not-found]

    from connector.run.cli import main

    install(0 if in_push else kill_at)
    _mark_push_start(log.with_suffix(".push"), kill_at if in_push else 0)
    sys.argv = ["connector", "sync", "--config", config, "--as-of", as_of]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    points_file.write_text(str(passed[0]))
    os._exit(code)


def _mark_push_start(path: Path, kill_after: int) -> None:
    """Write the crash points passed when the run's push stage begins (the runner looks `push` up
    at call time); with `kill_after`, arm the kill that many points into the push."""
    from killpoints import arm, passed  # type: ignore[import-not-found]

    import connector.run.runner as runner

    real_push = runner.push

    def push(*args: object, **kwargs: object) -> object:
        path.write_text(str(passed[0]))
        if kill_after:
            arm(passed[0] + kill_after)
        return real_push(*args, **kwargs)  # type: ignore[arg-type]

    runner.push = push  # type: ignore[assignment]


def run_child(job: dict[str, str], index: int, kill_at: int) -> int:
    out_dir = Path(job["out_dir"])
    log = out_dir / f"run-{index:03d}.log"
    points_file = out_dir / f"run-{index:03d}.points"
    pid = os.fork()
    if pid == 0:
        child(job["config"], job["as_of"], kill_at, log, points_file, bool(job.get("in_push")))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    points = int(points_file.read_text()) if points_file.exists() else None
    push_file = log.with_suffix(".push")
    push_start = int(push_file.read_text()) if push_file.exists() else None
    print(json.dumps({"kill_at": kill_at, "exit": code, "points": points, "push_start": push_start,
                      "log": str(log)}), flush=True)
    return code


def main() -> None:
    job = json.loads(sys.argv[1])
    Path(job["out_dir"]).mkdir(parents=True, exist_ok=True)
    preload()
    rng = random.Random(int(job.get("seed", 0)))
    kills, index = 0, 0
    while kills < int(job.get("kills", 0)) and index < 10 * int(job["kills"]):
        code = run_child(job, index, rng.randint(1, int(job["points"])))
        kills += code < 0
        index += 1
    run_child(job, index, 0)


if __name__ == "__main__":
    main()
