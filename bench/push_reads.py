"""Time push's two reads of the mirrored rewards on a copy of a kept store, as a no-change sync runs them.

Why: at L a sync with nothing changed spent most of its time in the push stage's status read-back
and its search for mirrored rewards no entry records, both of which read every mirrored reward
(README "Push reads what changed"). This times exactly those two on a store `bench/run SIZE --db
sqlite --keep DIR` left, without a sandbox: the store is copied first (`sqlite3` `backup`, the
original is never written), migrated to this checkout's head, and the two reads run `--repeat`
times, each in its own transaction as the push commits them. Run it from each checkout to compare:
the code before incremental reads (no `connector.push.marks`) runs the store-wide reads each time;
the code after runs the first pass store-wide (no mark yet: the first run after its migration),
the next ones from their marks. Wall and CPU seconds per repetition go to stdout as JSON lines.

    PYTHONPATH=. python -m bench.push_reads STORE.db [--program consio] [--repeat 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from connector.store.db import make_engine, session_factory, upgrade


def copy_store(source: Path, target: Path) -> None:
    """The store at `source` copied to `target` page by page (consistent even if `source` is in use)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("store", type=Path)
    p.add_argument("--program", default="consio")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", type=Path)
    args = p.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="push-reads-"))
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / "copy.db"
    _, wall, _ = timed(lambda: copy_store(args.store, copy))
    print(json.dumps({"copied": str(copy), "seconds": round(wall, 2)}), flush=True)
    engine = make_engine(f"sqlite:///{copy}")
    _, wall, cpu = timed(lambda: upgrade(engine))
    print(json.dumps({"migrated": True, "seconds": round(wall, 2), "cpu": round(cpu, 2)}), flush=True)
    sessions = session_factory(engine)
    from adapters.partnerstack.rewards import PartnerStackRewards
    from connector.push.status import read_back_status

    try:
        import connector.push.marks  # noqa: F401

        incremental = True
    except ImportError:
        incremental = False
    for i in range(args.repeat):
        ctx: Any = SimpleNamespace(sessions=sessions, run_id=str(uuid.uuid4()), as_of=dt.datetime.now(dt.UTC))

        def search() -> int:
            with sessions() as session, session.begin():
                if incremental:
                    found = PartnerStackRewards.find_mirrored(None, session, args.program)  # type: ignore[arg-type]
                else:
                    found = PartnerStackRewards.find_mirrored(None, session)  # type: ignore[arg-type,call-arg]
            return len(found)

        found, search_wall, search_cpu = timed(search)
        moved, back_wall, back_cpu = timed(lambda ctx=ctx: read_back_status(ctx, args.program))
        print(json.dumps({
            "repetition": i + 1, "incremental": incremental,
            "mirrored_search": {"seconds": round(search_wall, 3), "cpu": round(search_cpu, 3), "found": found},
            "status_read_back": {"seconds": round(back_wall, 3), "cpu": round(back_cpu, 3), "moved": moved},
        }), flush=True)
    engine.dispose()


if __name__ == "__main__":
    main()
