"""Secrets and personal data never leave in full: run with sentinel API keys, tax ids and bank
numbers, then scan every log line, every report format, the metrics and every column of every
table. Reports may show the last four characters, and do.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from connector.config import Settings
from connector.report import write_report
from connector.run.metrics import ConnectorMetrics
from connector.run.runner import run_once
from connector.store import models
from sandbox.server import SandboxServer

from ..run.conftest import AS_OF as AS_OF_DT
from ..run.conftest import settings_values
from .conftest import AS_OF, SCENARIOS, config_file, no_traceback, run_cli

STRIPE_KEY = "sk_test_SENTINELstripeKEY7q2w"
PS_PUBLIC = "pk_SENTINELpublicKEY3e4r"
PS_SECRET = "sk_SENTINELsecretKEY5t6y"
FINGERPRINT_KEY = "SENTINELfingerprintKEY8u9i"
TAX_ID_US = "918-27-3645"
BANK_ACCOUNT = "000918273645507"
BANK_ROUTING = "091827364"
TAX_ID_DE = "DE918273645"
IBAN = "DE44918273645509182736"
SENTINELS = [STRIPE_KEY, PS_PUBLIC, PS_SECRET, FINGERPRINT_KEY, TAX_ID_US, TAX_ID_US.replace("-", ""),
             BANK_ACCOUNT, BANK_ROUTING, TAX_ID_DE, IBAN]
FORMATS = ("table", "json", "csv", "xlsx", "html")


def sentinel_scenario() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCENARIOS / "consio-example.json").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    ada, bob = doc["partnerstack"]["partnerships"]
    ada["fields"].update(tax_id=TAX_ID_US, bank_account_number=BANK_ACCOUNT, bank_routing_number=BANK_ROUTING)
    bob["fields"].update(tax_id=TAX_ID_DE, iban=IBAN)
    return doc


def leaks(where: str, text: str) -> list[str]:
    return [f"{where}: {s}" for s in SENTINELS if s in text]


def database_text(engine: Engine) -> str:
    """Every value of every column of every table, JSON payloads included, as one text."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in models.Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.extend(json.dumps(v, default=str, ensure_ascii=False) for v in row)
    return "\n".join(parts)


def test_no_secret_or_personal_number_appears_in_full_anywhere(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    secrets = {"stripe": {"api_key": STRIPE_KEY}, "partnerstack": {"public_key": PS_PUBLIC, "secret_key": PS_SECRET},
               "security": {"fingerprint_key": FINGERPRINT_KEY}}
    with SandboxServer(sentinel_scenario(), stripe_key=STRIPE_KEY, partnerstack_keys=(PS_PUBLIC, PS_SECRET)) as sandbox:
        config = config_file(tmp_path, database_url, sandbox, log={"level": "DEBUG"}, **secrets)
        result = run_cli("sync", "--config", str(config), "--as-of", AS_OF)
        no_traceback(result)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "3 rewards pushed" in result.stdout
        found = leaks("sync stdout", result.stdout) + leaks("sync stderr", result.stderr)
        # a second, in-process run (a backfill re-reads every record) feeds the metrics registry
        settings = Settings(**settings_values(database_url, sandbox, **secrets))
        outcome = run_once(settings, kind="backfill", as_of=AS_OF_DT, since=AS_OF_DT.replace(year=2025))
        metrics = ConnectorMetrics()
        metrics.record_success(outcome)
        found += leaks("metrics", metrics.exposition().decode())
        found += leaks("platform rewards", json.dumps(sandbox.rewards, default=str))
    for fmt in FORMATS:
        for partner in (None, "part_ada"):
            out = tmp_path / f"report-{partner or 'all'}.{fmt}"
            text = write_report(engine, None, fmt, None if fmt in ("table", "json") else out, partner=partner)
            body = text if fmt in ("table", "json") else out.read_bytes().decode("utf-8", errors="replace")
            if fmt == "xlsx":
                with zipfile.ZipFile(out) as book:
                    body = "\n".join(book.read(name).decode("utf-8", errors="replace") for name in book.namelist())
            found += leaks(f"report {fmt} {partner or ''}", body)
            if fmt in ("json", "csv", "xlsx", "html") and partner is None:
                assert BANK_ACCOUNT[-4:] in body and TAX_ID_US[-4:] in body, f"{fmt} report lacks the last four"
    found += leaks("database", database_text(engine))
    assert found == []
