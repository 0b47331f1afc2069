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

`--rebuild-markers` times instead the store-wide rebuild of the marker index (`refresh_markers(...,
store_wide=True)`, what a backfill, `--full` and a first sync after a backfill run), each repetition
in its own transaction; `--cold` first drops the copy's pages from the OS page cache (that file
only). `--reuse-copy` keeps the copy already in `--workdir` (migrated once), so runs from two
checkouts can alternate on one copy. `--postgres URL` runs it on PostgreSQL: the
copy's `ps_rewards` are loaded into the scratch schema `--schema` (created, migrated; kept with
`--reuse-copy` for the next run, dropped with `--drop-schema`), and `ps_reward_markers` is vacuumed
before each repetition (untimed: the previous rebuild's dead rows, which autovacuum would reclaim).

    PYTHONPATH=. python -m bench.push_reads STORE.db [--program consio] [--repeat 3] [--workdir DIR]
    PYTHONPATH=<checkout> python bench/push_reads.py STORE.db --rebuild-markers --workdir DIR --reuse-copy
        [--postgres postgresql+psycopg://… --schema bench_markers [--drop-schema]]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Engine, Table, func, insert, select, text

from connector.store.db import make_engine, session_factory, upgrade
from connector.store.models import PlatformReward


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


def load_rewards(source: Engine, target: Engine, chunk: int = 5_000) -> int:
    """Every row of `ps_rewards` in `source` inserted into `target`'s (empty) table, in `source`'s table order."""
    table = cast(Table, PlatformReward.__table__)
    rows = 0
    with source.connect() as read, target.begin() as write:
        result = read.execution_options(yield_per=chunk).execute(select(table))
        for part in result.partitions():
            write.execute(insert(table), [dict(row._mapping) for row in part])
            rows += len(part)
        write.execute(text("ANALYZE ps_rewards"))
    return rows


def evict(store: Path) -> None:
    """Drop the store's pages (and its WAL's) from the OS page cache, as if not read for a while: this
    file's clean pages only (`posix_fadvise` DONTNEED), nothing else on the machine."""
    for path in (store, store.with_name(store.name + "-wal")):
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def rebuild_markers(sessions: Any) -> tuple[int, int]:
    """The marker index rebuilt store-wide in one transaction: rewards read, markers in the index."""
    from adapters.partnerstack.rewards import refresh_markers  # imported before the timing starts
    from connector.store.models import RewardMarker

    with sessions() as session, session.begin():
        read = refresh_markers(session, store_wide=True)
        markers = session.scalar(select(func.count()).select_from(RewardMarker)) or 0
    return read, markers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("store", type=Path)
    p.add_argument("--program", default="consio")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--rebuild-markers", action="store_true", help="time the store-wide marker index rebuild")
    p.add_argument("--reuse-copy", action="store_true", help="keep the copy (or schema) a previous run left")
    p.add_argument("--postgres", metavar="URL", help="run on PostgreSQL: the copy's ps_rewards in --schema")
    p.add_argument("--schema", default="bench_markers")
    p.add_argument("--drop-schema", action="store_true", help="drop --schema at the end")
    p.add_argument("--cold", action="store_true", help="SQLite: the copy out of the page cache before each repetition")
    args = p.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="push-reads-"))
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / "copy.db"
    fresh_copy = not (args.reuse_copy and copy.exists())
    if fresh_copy:
        _, wall, _ = timed(lambda: copy_store(args.store, copy))
        print(json.dumps({"copied": str(copy), "seconds": round(wall, 2)}), flush=True)
    engine = make_engine(f"sqlite:///{copy}")
    if fresh_copy:
        _, wall, cpu = timed(lambda: upgrade(engine))
        print(json.dumps({"migrated": True, "seconds": round(wall, 2), "cpu": round(cpu, 2)}), flush=True)
    if args.postgres:
        if not args.rebuild_markers:
            p.error("--postgres times --rebuild-markers only (the store copied is ps_rewards alone)")
        admin = make_engine(args.postgres)
        with admin.begin() as conn:
            present = conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": args.schema})
            if present and not args.reuse_copy:
                conn.execute(text(f'DROP SCHEMA "{args.schema}" CASCADE'))
            if not present or not args.reuse_copy:
                conn.execute(text(f'CREATE SCHEMA "{args.schema}"'))
        target = make_engine(args.postgres, schema=args.schema)
        if not present or not args.reuse_copy:
            upgrade(target)
            loaded, wall, _ = timed(lambda: load_rewards(engine, target))
            print(json.dumps({"loaded_rewards": loaded, "schema": args.schema, "seconds": round(wall, 2)}), flush=True)
        engine.dispose()
        engine = target
    sessions = session_factory(engine)
    if args.rebuild_markers:
        import adapters.partnerstack.rewards  # noqa: F401  (its imports are no part of the rebuild's time)

        for i in range(args.repeat):
            if args.cold and not args.postgres:
                engine.dispose()
                evict(copy)
            if args.postgres:  # the previous rebuild's dead rows reclaimed, as autovacuum would (off here)
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ps_reward_markers"))
            (read, markers), wall, cpu = timed(lambda: rebuild_markers(sessions))
            timing = {"seconds": round(wall, 3), "cpu": round(cpu, 3), "rewards_read": read, "markers": markers}
            print(json.dumps({"repetition": i + 1, "database": engine.dialect.name, "cold": args.cold,
                              "rebuild_markers": timing}),
                  flush=True)  # fmt: skip
        engine.dispose()
        if args.postgres and args.drop_schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{args.schema}" CASCADE'))
            print(json.dumps({"dropped": args.schema}), flush=True)
        return
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
