"""Every module of `connector/` and `adapters/` imports on its own, first, in a fresh process.

Why: an import cycle shows only when one particular module happens to be imported first
(`connector.ledger` once failed that way while every test passed). One child process per
module, forked from a parent that has loaded only third-party libraries, so each child
starts with none of the project's modules and imports exactly one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_IMPORTABLE_ALONE = {
    "connector.__main__",  # runs the CLI
    "connector.store.migrations.env",  # runs inside Alembic's migration context
}


def project_modules() -> list[str]:
    names = []
    for package in ("connector", "adapters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if "versions" in rel.parts:
                continue
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            name = ".".join(parts)
            if name not in NOT_IMPORTABLE_ALONE:
                names.append(name)
    return names


CHILD = textwrap.dedent(
    """
    import importlib, os, sys, traceback
    for lib in ("sqlalchemy", "sqlalchemy.orm", "pydantic", "pydantic_settings", "httpx", "tenacity",
                "typer", "rich", "jinja2", "openpyxl", "prometheus_client", "alembic", "starlette"):
        importlib.import_module(lib)
    assert not any(m.split(".")[0] in ("connector", "adapters") for m in sys.modules)
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append(name)
    print("FAILED:" + ",".join(failed))
    """
)


def test_every_module_imports_first_on_its_own() -> None:
    modules = project_modules()
    assert "connector.ledger.store" in modules and "adapters.stripe" in modules
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *modules], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    failed = done.stdout.strip().rpartition("FAILED:")[2]
    assert failed == "", f"cannot be imported first: {failed}\n{done.stderr[-4000:]}"
