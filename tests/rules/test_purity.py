"""The rules are pure: importing them loads no database library (only `connector.rules.reads` reads the store)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rules_import_no_sqlalchemy() -> None:
    code = (
        "import sys, connector.rules\n"
        "banned = ('sqlalchemy', 'connector.store', 'connector.rules.reads', 'connector.ledger')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(banned))\n"
        "print(','.join(loaded))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
