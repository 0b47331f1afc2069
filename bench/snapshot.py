"""Behaviour snapshots of the connector: proof that a refactor changed nothing a user can see.

Why: moving modules around must not change one ledger entry, decision or pushed reward. The unit
tests import the modules being moved, so they move with them; this tool instead drives a checkout's
connector end to end through its command line only (``connector sandbox`` serving a scenario,
``connector db upgrade``, ``connector sync --as-of``) and never imports ``connector.*`` itself. The
same dump can therefore be taken of the commit before a refactor (another worktree, ``--repo``) and
of the working tree after it, and the two compared. The CLI module is looked up the way either
layout has it: ``connector/__main__.py`` when the package has one, else ``connector.run.cli``, else
``connector.cli``. Every process runs with cwd and ``PYTHONPATH`` the checkout, and with the import hooks
of an editable install of another checkout (the shared venv's ``__editable__`` finder) removed first, so
it imports nothing but the checkout's own code (``_meta.json`` records which ``connector`` it imported).

What is run, one after the other (two cores, shared):

* every ``tests/scenarios/*.json`` and ``sandbox/scenarios/demo.json`` of the checkout: its sandbox,
  a fresh SQLite database, the program its ``expect.program`` names, one sync at its ``now``;
* the benchmark's S world (``bench.serve S --seed 1``, as ``bench/run`` serves it) once per program
  (``--s-programs``; ``--no-with-s`` leaves it out): a sync at the world's NOW, a second sync with no
  change, the benchmark's 1 % change (``bench.generate.change_set`` through ``/_sandbox/apply``) and an
  incremental sync at its time. About 80 s for the four programs on 2 cores, the scenarios 40 s.

What is written, one canonical JSON file per scenario (rows sorted, one row per line, so that two
dumps can also be read with ``diff``): every row of ``ledger_entries``, ``decisions``, ``findings`` and
``quarantine``, column by column, except what differs from run to run by construction (auto-increment
``id``, wall-clock ``created_at`` / ``pushed_at`` / ``updated_at``, random run ids); every reward body
the sandbox received (``GET /_sandbox/rewards``) without the sandbox's own ``key`` and clock fields;
the exit code and outcome line of each command. Rewards are pushed by partner in parallel, so the
sandbox's sequential reward keys (``rwd_0000000001``...) depend on thread timing: a ledger entry's
``platform_reward_key`` that names a pushed reward is written as ``pushed:<the entry it pays>``, read from
the ``[entry:<key>]`` marker of its description (``external_key`` in dumps of older commits).
Timings, the interpreter and the imported ``connector`` package path go to ``_meta.json``, which
``compare`` does not compare.

    python -m bench.snapshot dump OUTDIR [--repo DIR] [--python PATH] [--no-with-s] [--only NAME ...]
    python -m bench.snapshot compare DIR_A DIR_B

``compare`` prints ``identical`` or the differences (first rows of each) per scenario and exits 1 on
any difference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import zip_longest
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import MetaData, create_engine, select

REPO = Path(__file__).resolve().parents[1]
META = "_meta.json"
FINGERPRINT_KEY = "snapshot-fingerprint-key"
S_SIZE, S_SEED = "S", 1
S_PROGRAMS = ("consio", "connectus", "netsource", "tech-consultant")
SCENARIO_TIMEOUT = 600.0
S_TIMEOUT = 1800.0
SHOW_ROWS = 5

# Table -> the columns that identify a row (empty: compare rows as a multiset).
TABLES: dict[str, tuple[str, ...]] = {
    "ledger_entries": ("entry_key",),
    "decisions": ("program", "submission_key"),
    "findings": (),
    "quarantine": (),
}
WALL_CLOCK_COLUMNS = frozenset({"created_at", "pushed_at", "updated_at"})
REWARD_DROPPED = frozenset({"key", "created_at", "updated_at"})

# Run as ``PYTHON -c _BOOT MODE ARGS...`` with cwd and PYTHONPATH the checkout. The venv may hold an
# editable install of another checkout, whose import hooks would serve that checkout's modules wherever
# this one has none (``connector.run`` looked for in the old layout, say): they are removed first, so
# only the checkout's own code can be imported.
_BOOT = """
import importlib, json, os, runpy, sys

def _ours(hook):
    return "__editable__" not in str(getattr(hook, "__module__", ""))

sys.meta_path[:] = [f for f in sys.meta_path if _ours(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if _ours(h)]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()

def _cli():
    import connector
    package = os.path.dirname(connector.__file__)
    if os.path.isfile(os.path.join(package, "__main__.py")):
        return "connector", os.path.join(package, "__main__.py")
    for name in ("connector.run.cli", "connector.cli"):
        path = os.path.join(package, *name.split(".")[1:]) + ".py"
        if os.path.isfile(path):
            return name, path
    raise SystemExit("no connector command line (connector/__main__.py, connector/run/cli.py, connector/cli.py)")

mode = sys.argv.pop(1)
if mode == "cli":
    name, _ = _cli()
    sys.argv[0] = "connector"
    if name == "connector":
        runpy.run_module("connector", run_name="__main__", alter_sys=True)
    else:
        sys.exit(importlib.import_module(name).main())
elif mode == "module":
    runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
elif mode == "probe":
    import connector
    name, path = _cli()
    print(json.dumps({"connector": connector.__file__, "cli_module": name, "cli": path, "python": sys.version}))
elif mode == "change-set":
    from bench.generate import change_set
    sys.stdout.write(json.dumps(change_set(sys.argv[1], int(sys.argv[2]))))
else:
    raise SystemExit(f"unknown mode {mode}")
"""
_SERVING = re.compile(r"sandbox serving .* at (http://\S+)")
_RUN_ID = re.compile(r"\brun [0-9a-fA-F-]{8,}\b")
_REVISION = re.compile(r"(\) is at revision )\S+")
"""`db upgrade` names the head revision it reached: masked, so a new migration (which every checkout runs
to its own head) does not make every snapshot of a ledger-neutral change differ. A failed upgrade still
shows, by its exit code and error line."""


class SnapshotError(Exception):
    """A scenario could not be run; the message says which step and why."""


# ------------------------------------------------------------------ a checkout's command line


@dataclass(frozen=True)
class Checkout:
    repo: Path
    python: Path

    def env(self) -> dict[str, str]:
        """The checkout's code first on the path; no connector setting from the caller's environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        env.update(PYTHONPATH=str(self.repo), PYTHONHASHSEED="0", TZ="UTC", PYTHONDONTWRITEBYTECODE="1", COLUMNS="400")
        return env

    def boot(self, mode: str, *args: str) -> list[str]:
        """``python -c`` with only the checkout importable; ``mode`` is one of ``_BOOT``'s."""
        return [str(self.python), "-c", _BOOT, mode, *args]

    def cli(self, *args: str) -> list[str]:
        """The checkout's ``connector`` command, whichever module holds it."""
        return self.boot("cli", *args)

    def run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=self.repo, env=self.env(), capture_output=True, text=True, timeout=timeout)

    def probe(self) -> dict[str, Any]:
        """Which ``connector`` package and CLI module this interpreter imports from the checkout."""
        done = self.run(self.boot("probe"), timeout=120)
        if done.returncode != 0:
            raise SnapshotError(f"cannot import the checkout's connector: {_tail(done.stderr)}")
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return found


def _tail(text: str, lines: int = 1) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


@dataclass
class Step:
    command: str
    exit_code: int
    outcome: list[str]
    error: str | None


def _connector(checkout: Checkout, workdir: Path, label: str, *args: str, timeout: float) -> Step:
    """One ``connector`` command; its outcome lines (run id masked) and last stderr line on failure."""
    begun = time.perf_counter()
    done = checkout.run(checkout.cli(*args), timeout=timeout)
    outcome = [
        _REVISION.sub(r"\1<head>", _RUN_ID.sub("run <id>", line.rstrip())).replace(str(workdir), "<workdir>")
        for line in done.stdout.splitlines()
        if line.startswith(("run ", "  note: ", "database "))
    ]
    error = _tail(done.stderr).replace(str(workdir), "<workdir>") if done.returncode != 0 else None
    print(f"    {label}: exit {done.returncode} in {time.perf_counter() - begun:.1f} s", file=sys.stderr)
    return Step(label, done.returncode, outcome, error)


def _write_config(path: Path, db: Path, base_url: str, program: Path, costs: Path, workdir: Path) -> Path:
    """The run's settings; finance's FX rate file is named when the sandbox wrote one beside the cost file."""
    values: dict[str, dict[str, str | int]] = {
        "database": {"url": f"sqlite:///{db}"},
        "partnerstack": {"base_url": f"{base_url}/partnerstack/api/v2", "public_key": "pk_snapshot",
                         "secret_key": "sk_snapshot", "requests_per_second": 0},
        "stripe": {"base_url": f"{base_url}/stripe/v1", "api_key": "sk_test_snapshot"},
        "program": {"file": str(program)},
        "finance": {"marketing_costs_file": str(costs),
                    **({"fx_rates_file": str(_fx(costs))} if _fx(costs).is_file() else {})},
        "security": {"fingerprint_key": FINGERPRINT_KEY},
        "http": {"max_attempts": 3},
        "log": {"level": "WARNING", "format": "json"},
        "report": {"output_dir": str(workdir / "reports")},
    }
    lines: list[str] = []
    for section, items in values.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in items.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ------------------------------------------------------------------ sandboxes


def _wait_healthy(base_url: str, process: subprocess.Popen[Any], log: Path, deadline: float) -> None:
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SnapshotError(f"sandbox exited with {process.returncode}: {_tail(_read(log), 3)}")
            try:
                if client.get(f"{base_url}/_sandbox/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise SnapshotError(f"sandbox at {base_url} not healthy in time")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _fx(costs: Path) -> Path:
    return costs.with_name("fx.csv")


def _fx_args(scenario: Path, costs: Path) -> list[str]:
    """``--fx-csv`` only for a scenario with finance's rates (a checkout from before FX has no such option)."""
    finance = json.loads(scenario.read_bytes()).get("finance") or {}
    return ["--fx-csv", str(_fx(costs))] if finance.get("fx_rates") else []


@contextmanager
def scenario_sandbox(checkout: Checkout, scenario: Path, costs: Path, workdir: Path) -> Iterator[str]:
    """``connector sandbox --scenario FILE --port 0``; yields its base URL (read from its stderr)."""
    log = workdir / "sandbox.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            checkout.cli("sandbox", "--scenario", str(scenario), "--port", "0", "--costs-csv", str(costs),
                         *_fx_args(scenario, costs)),
            cwd=checkout.repo, env=checkout.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        base_url = None
        while base_url is None:
            found = _SERVING.search(_read(log))
            if found:
                base_url = found.group(1)
            elif process.poll() is not None:
                raise SnapshotError(f"sandbox exited with {process.returncode}: {_tail(_read(log), 3)}")
            elif time.monotonic() > deadline:
                raise SnapshotError("sandbox did not say where it serves in time")
            else:
                time.sleep(0.1)
        _wait_healthy(base_url, process, log, deadline)
        yield base_url
    finally:
        _stop(process)


@contextmanager
def bench_sandbox(checkout: Checkout, size: str, seed: int, costs: Path, workdir: Path) -> Iterator[str]:
    """``python -m bench.serve SIZE`` of the checkout; it serves until its stdin closes."""
    log = workdir / "bench-serve.log"
    with log.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            checkout.boot("module", "bench.serve", size, "--seed", str(seed), "--costs-csv", str(costs),
                          "--fx-csv", str(_fx(costs))),
            cwd=checkout.repo, env=checkout.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SnapshotError(f"bench.serve exited with {process.wait()}: {_tail(_read(log), 3)}")
        base_url = str(json.loads(line)["url"])
        _wait_healthy(base_url, process, log, time.monotonic() + 60)
        yield base_url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _stop(process)


def _pushed_rewards(base_url: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base_url}/_sandbox/rewards", timeout=60.0)
    answer.raise_for_status()
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


# ------------------------------------------------------------------ canonical rows


def _plain(value: Any, workdir: str) -> Any:
    """JSON-able, the same text for the same value whatever the database driver returned."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, str):
        return value.replace(workdir, "<workdir>")
    if isinstance(value, dict):
        return {str(k): _plain(v, workdir) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, workdir) for v in value]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _excluded(name: str, autoincrement_id: bool) -> bool:
    return name.endswith("run_id") or name in WALL_CLOCK_COLUMNS or (name == "id" and autoincrement_id)


def _row_order(keys: tuple[str, ...]) -> Any:
    def order(row: dict[str, Any]) -> tuple[str, str]:
        return (_canonical([row.get(k) for k in keys]), _canonical(row))

    return order


_ENTRY_MARKER = re.compile(r"\[entry:([^\]]+)\]")


def _paid_entry(reward: dict[str, Any]) -> Any:
    """The entry a reward pays: its description's marker (PartnerStack keeps no other field of ours)."""
    found = _ENTRY_MARKER.search(str(reward.get("description") or ""))
    return found.group(1) if found else reward.get("external_key")


def dump_tables(db: Path, rewards: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """Every row of the compared tables, without the columns that differ from run to run by design."""
    reward_of = {r.get("key"): _paid_entry(r) for r in rewards if r.get("key")}
    engine = create_engine(f"sqlite:///{db}")
    tables: dict[str, Any] = {}
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for name, keys in TABLES.items():
                table = meta.tables.get(name)
                if table is None:
                    tables[name] = {"missing": True}
                    continue
                pk = list(table.primary_key.columns)
                autoincrement_id = len(pk) == 1 and pk[0].name == "id"
                kept = [c for c in table.columns if not _excluded(c.name, autoincrement_id)]
                rows: list[dict[str, Any]] = []
                for record in conn.execute(select(*kept)):
                    row = {c.name: _plain(v, str(workdir)) for c, v in zip(kept, record, strict=True)}
                    reward_key = row.get("platform_reward_key")
                    if reward_key in reward_of:
                        row["platform_reward_key"] = f"pushed:{reward_of[reward_key]}"
                    rows.append(row)
                rows.sort(key=_row_order(keys))
                tables[name] = {
                    "key": list(keys),
                    "columns": sorted(c.name for c in kept),
                    "excluded": sorted(c.name for c in table.columns if c not in kept),
                    "rows": rows,
                }
    finally:
        engine.dispose()
    reward_rows = [
        {"entry": _paid_entry(r), **{k: _plain(v, str(workdir)) for k, v in r.items() if k not in REWARD_DROPPED}}
        for r in rewards
    ]
    reward_rows.sort(key=_row_order(("entry",)))
    tables["rewards"] = {"key": ["entry"], "excluded": sorted(REWARD_DROPPED), "rows": reward_rows}
    return tables


# ------------------------------------------------------------------ one scenario


def _steps_doc(steps: list[Step]) -> list[dict[str, Any]]:
    return [{"command": s.command, "exit_code": s.exit_code, "outcome": s.outcome, "error": s.error} for s in steps]


def _program_file(checkout: Checkout, program: str) -> Path:
    path = checkout.repo / "programs" / f"{program}.toml"
    if not path.is_file():
        raise SnapshotError(f"program file not found: {path}")
    return path


def run_scenario(checkout: Checkout, scenario: Path, workdir: Path) -> dict[str, Any]:
    """Sandbox + fresh database + ``db upgrade`` + ``sync --as-of <now>``; the dump of what it left."""
    raw = scenario.read_bytes()
    doc = json.loads(raw)
    expect = doc.get("expect") or {}
    program = expect.get("program") if isinstance(expect, dict) else None
    as_of = doc.get("now")
    if not isinstance(program, str) or not isinstance(as_of, str):
        raise SnapshotError("the scenario names no expect.program or no now")
    out: dict[str, Any] = {
        "input": {"file": str(scenario.relative_to(checkout.repo)), "sha256": hashlib.sha256(raw).hexdigest()},
        "program": program,
        "as_of": as_of,
    }
    db, costs = workdir / "connector.db", workdir / "marketing-costs.csv"
    steps: list[Step] = []
    with scenario_sandbox(checkout, scenario, costs, workdir) as base_url:
        config = _write_config(workdir / "connector.toml", db, base_url, _program_file(checkout, program), costs,
                               workdir)
        steps.append(_connector(checkout, workdir, "db upgrade", "db", "upgrade", "--config", str(config),
                                timeout=SCENARIO_TIMEOUT))
        if steps[-1].exit_code == 0:
            steps.append(_connector(checkout, workdir, f"sync --as-of {as_of}", "sync", "--config", str(config),
                                    "--as-of", as_of, timeout=SCENARIO_TIMEOUT))
        rewards = _pushed_rewards(base_url)
    out["steps"] = _steps_doc(steps)
    out["tables"] = dump_tables(db, rewards, workdir)
    return out


def run_bench_world(checkout: Checkout, workdir: Path, program: str) -> dict[str, Any]:
    """The benchmark's S world: sync at NOW, a no-change sync, the 1 % change, an incremental sync."""
    change = checkout.run(checkout.boot("change-set", S_SIZE, str(S_SEED)), timeout=300)
    if change.returncode != 0:
        raise SnapshotError(f"bench.generate.change_set failed: {_tail(change.stderr)}")
    change_doc = change.stdout
    changed_at = str(json.loads(change_doc)["now"])
    now = "2026-06-30T00:00:00Z"  # bench.generate.NOW, the world's clock
    out: dict[str, Any] = {
        "input": {"bench": S_SIZE, "seed": S_SEED,
                  "change_set_sha256": hashlib.sha256(change_doc.encode()).hexdigest()},
        "program": program,
        "as_of": [now, now, changed_at],
    }
    db, costs = workdir / "connector.db", workdir / "marketing-costs.csv"
    steps: list[Step] = []
    with bench_sandbox(checkout, S_SIZE, S_SEED, costs, workdir) as base_url:
        config = _write_config(workdir / "connector.toml", db, base_url, _program_file(checkout, program), costs,
                               workdir)
        args = ("--config", str(config))
        steps.append(_connector(checkout, workdir, "db upgrade", "db", "upgrade", *args, timeout=S_TIMEOUT))
        for label, as_of in (("sync", now), ("sync, no change", now)):
            if steps[-1].exit_code == 0:
                steps.append(_connector(checkout, workdir, f"{label} --as-of {as_of}", "sync", *args, "--as-of",
                                        as_of, timeout=S_TIMEOUT))
        if steps[-1].exit_code == 0:
            applied = httpx.post(f"{base_url}/_sandbox/apply", content=change_doc, timeout=300.0)
            applied.raise_for_status()
            steps.append(_connector(checkout, workdir, f"sync after the 1 % change --as-of {changed_at}", "sync",
                                    *args, "--as-of", changed_at, timeout=S_TIMEOUT))
        rewards = _pushed_rewards(base_url)
    out["steps"] = _steps_doc(steps)
    out["tables"] = dump_tables(db, rewards, workdir)
    return out


# ------------------------------------------------------------------ dump


def scenario_files(repo: Path) -> list[Path]:
    return [*sorted((repo / "tests" / "scenarios").glob("*.json")), repo / "sandbox" / "scenarios" / "demo.json"]


def snapshot_name(repo: Path, scenario: Path) -> str:
    return str(scenario.relative_to(repo).with_suffix("")).replace(os.sep, "__")


def _render(value: Any, indent: str = "") -> str:
    """Indented JSON whose lists of objects (the rows) hold one object per line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_render(v, inner)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "[\n" + ",\n".join(inner + _canonical(v) for v in value) + "\n" + indent + "]"
    return _canonical(value)


def _save(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(_render(doc) + "\n", encoding="utf-8")


def dump(outdir: Path, checkout: Checkout, with_s: bool, s_programs: list[str], only: list[str] | None) -> int:
    found = checkout.probe()
    print(f"connector imported from {found['connector']} (CLI {found['cli_module']}: {found['cli']})", file=sys.stderr)
    if not Path(found["connector"]).resolve().is_relative_to(checkout.repo):
        print(f"error: {checkout.python} imports connector from outside {checkout.repo}", file=sys.stderr)
        return 2
    jobs: list[tuple[str, Callable[[Path], dict[str, Any]]]] = [
        (snapshot_name(checkout.repo, p), partial(run_scenario, checkout, p)) for p in scenario_files(checkout.repo)
    ]
    if with_s:
        jobs += [(f"bench__{S_SIZE}__{program}", partial(run_bench_world, checkout, program=program))
                 for program in s_programs]
    if only:
        jobs = [(name, job) for name, job in jobs if any(o in name for o in only)]
    outdir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "repo": str(checkout.repo), "python": str(checkout.python), "imported": found,
        "jobs": [name for name, _ in jobs], "started": dt.datetime.now(dt.UTC).isoformat(), "seconds": {}, "errors": {},
    }
    begun = time.perf_counter()
    failed = 0
    for name, job in jobs:
        print(f"{name}", file=sys.stderr)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="snapshot-") as tmp:
            workdir = Path(tmp)
            try:
                doc = job(workdir)
            except (SnapshotError, httpx.HTTPError, subprocess.TimeoutExpired, OSError, ValueError) as exc:
                failed += 1
                doc = {"error": f"{type(exc).__name__}: {exc}".replace(str(workdir), "<workdir>")}
                meta["errors"][name] = doc["error"]
                print(f"    could not run: {doc['error']}", file=sys.stderr)
        doc["scenario"] = name
        _save(outdir / f"{name}.json", doc)
        meta["seconds"][name] = round(time.perf_counter() - started, 2)
        if "tables" in doc:
            counts = {t: len(v.get("rows", [])) for t, v in doc["tables"].items()}
            bad = [s["command"] for s in doc["steps"] if s["exit_code"] != 0]
            print(f"    {meta['seconds'][name]} s, rows {counts}" + (f", FAILED: {bad}" if bad else ""),
                  file=sys.stderr)
    meta["seconds"]["total"] = round(time.perf_counter() - begun, 2)
    _save(outdir / META, meta)
    print(f"wrote {len(jobs)} snapshots to {outdir} in {meta['seconds']['total']} s", file=sys.stderr)
    return 1 if failed else 0


# ------------------------------------------------------------------ compare


def _short(row: Any, limit: int = 400) -> str:
    text = _canonical(row)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _diff_rows(name: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if a.get("missing") or b.get("missing"):
        return [f"  {name}: table missing in {'A' if a.get('missing') else 'B'}"] if a != b else []
    for field in ("columns", "excluded", "key"):
        if a.get(field) != b.get(field):
            out.append(f"  {name}: {field} differ: A {a.get(field)} / B {b.get(field)}")
    rows_a: list[dict[str, Any]] = a.get("rows", [])
    rows_b: list[dict[str, Any]] = b.get("rows", [])
    if rows_a == rows_b:
        return out
    keys: list[str] = list(a.get("key") or [])
    by_a = {_canonical([r.get(k) for k in keys]): r for r in rows_a} if keys else {}
    by_b = {_canonical([r.get(k) for k in keys]): r for r in rows_b} if keys else {}
    shown: list[str] = []
    if keys and len(by_a) == len(rows_a) and len(by_b) == len(rows_b):
        only_a = [k for k in by_a if k not in by_b]
        only_b = [k for k in by_b if k not in by_a]
        changed = [k for k in by_a if k in by_b and by_a[k] != by_b[k]]
        out.append(f"  {name}: {len(rows_a)} rows in A, {len(rows_b)} in B: {len(changed)} changed, "
                   f"{len(only_a)} only in A, {len(only_b)} only in B")
        for k in changed[:SHOW_ROWS]:
            ra, rb = by_a[k], by_b[k]
            cols = sorted(set(ra) | set(rb), key=str)
            what = {c: [ra.get(c), rb.get(c)] for c in cols if ra.get(c) != rb.get(c)}
            shown.append(f"    changed {k}: {_short(what)}")
        shown += [f"    only in A: {_short(by_a[k])}" for k in only_a[:SHOW_ROWS]]
        shown += [f"    only in B: {_short(by_b[k])}" for k in only_b[:SHOW_ROWS]]
    else:
        count_a, count_b = Counter(map(_canonical, rows_a)), Counter(map(_canonical, rows_b))
        extra_a, extra_b = list((count_a - count_b).elements()), list((count_b - count_a).elements())
        out.append(f"  {name}: {len(rows_a)} rows in A, {len(rows_b)} in B: {len(extra_a)} only in A, "
                   f"{len(extra_b)} only in B")
        if not extra_a and not extra_b:
            out.append(f"  {name}: same rows in another order")
        shown += [f"    only in A: {_short(json.loads(t))}" for t in extra_a[:SHOW_ROWS]]
        shown += [f"    only in B: {_short(json.loads(t))}" for t in extra_b[:SHOW_ROWS]]
    return out + shown


def compare_docs(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for field in sorted((set(a) | set(b)) - {"tables"}):
        va, vb = a.get(field), b.get(field)
        if va == vb:
            continue
        if isinstance(va, list) and isinstance(vb, list) and all(isinstance(v, dict) for v in [*va, *vb]):
            empty: dict[str, Any] = {}
            for i, (ea, eb) in enumerate(zip_longest(va, vb, fillvalue=empty)):
                if ea != eb:  # the commands run: show only what differs of each
                    what = {k: [ea.get(k), eb.get(k)] for k in sorted(set(ea) | set(eb)) if ea.get(k) != eb.get(k)}
                    out.append(f"  {field}[{i}] {ea.get('command') or eb.get('command') or ''}: A/B {_short(what)}")
            continue
        out.append(f"  {field}: A {_short(va)}")
        out.append(f"  {' ' * len(field)}  B {_short(vb)}")
    tables_a: dict[str, Any] = a.get("tables") or {}
    tables_b: dict[str, Any] = b.get("tables") or {}
    for name in sorted(set(tables_a) | set(tables_b)):
        if name not in tables_a or name not in tables_b:
            out.append(f"  {name}: only in {'A' if name in tables_a else 'B'}")
        elif tables_a[name] != tables_b[name]:
            out.extend(_diff_rows(name, tables_a[name], tables_b[name]))
    return out


def _revision_masked(doc: dict[str, Any]) -> dict[str, Any]:
    """The doc with its steps' revision lines masked, as `dump` now writes them (older dumps kept the number)."""
    for step in doc.get("steps") or []:
        step["outcome"] = [_REVISION.sub(r"\1<head>", line) for line in step.get("outcome") or []]
    return doc


def compare(dir_a: Path, dir_b: Path) -> int:
    for d in (dir_a, dir_b):
        if not d.is_dir():
            print(f"error: not a directory: {d}", file=sys.stderr)
            return 2
    names_a = {p.stem for p in dir_a.glob("*.json") if p.name != META}
    names_b = {p.stem for p in dir_b.glob("*.json") if p.name != META}
    different = 0
    for name in sorted(names_a | names_b):
        if name not in names_a or name not in names_b:
            different += 1
            print(f"{name}: DIFFERENT: only in {'A' if name in names_a else 'B'}")
            continue
        a = _revision_masked(json.loads((dir_a / f"{name}.json").read_text(encoding="utf-8")))
        b = _revision_masked(json.loads((dir_b / f"{name}.json").read_text(encoding="utf-8")))
        lines = compare_docs(a, b)
        if lines:
            different += 1
            print(f"{name}: DIFFERENT")
            print("\n".join(lines))
        else:
            rows = {t: len(v.get("rows", [])) for t, v in (a.get("tables") or {}).items()}
            note = f" (both could not run: {a['error']})" if "error" in a else ""
            print(f"{name}: identical {rows}{note}")
    total = len(names_a | names_b)
    print(f"{total - different} of {total} identical" + (f", {different} different" if different else ""))
    return 1 if different else 0


# ------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("dump", help="run every scenario through a checkout's CLI and write its snapshot")
    d.add_argument("outdir", type=Path)
    d.add_argument("--repo", type=Path, default=REPO, help="the checkout to run (default: this one)")
    d.add_argument("--python", type=Path, default=None,
                   help="its interpreter (default: REPO/.venv/bin/python, else this one)")
    d.add_argument("--with-s", action=argparse.BooleanOptionalAction, default=True,
                   help="also the benchmark's S world, once per program (default; about 30 s each)")
    d.add_argument("--s-programs", default=",".join(S_PROGRAMS),
                   help=f"the programs run on the S world (default: {','.join(S_PROGRAMS)})")
    d.add_argument("--only", nargs="*", help="only the scenarios whose name contains one of these")
    c = commands.add_parser("compare", help="compare two dumps; exit 1 on any difference")
    c.add_argument("dir_a", type=Path)
    c.add_argument("dir_b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "compare":
        return compare(args.dir_a, args.dir_b)
    repo = args.repo.resolve()
    python = args.python
    if python is None:
        venv = repo / ".venv" / "bin" / "python"
        python = venv if venv.exists() else Path(sys.executable)
    return dump(args.outdir.resolve(), Checkout(repo, python.absolute()), args.with_s,
                [p for p in args.s_programs.split(",") if p], args.only)


if __name__ == "__main__":
    raise SystemExit(main())
