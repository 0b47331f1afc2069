"""Secrets and personal data never leave in full: run with sentinel API keys, tax ids and bank
numbers, then scan every log line, every report format, the metrics and every column of every
table. Reports may show the last four characters, and do.

The sentinels sit in every shape PartnerStack sends form answers in: the documented list of field
objects, the deprecated flat `field_data` and `meta` objects, and copies under other names.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
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


ADA_SECRETS = {"tax_id": TAX_ID_US, "bank_account_number": BANK_ACCOUNT, "bank_routing_number": BANK_ROUTING}
BOB_SECRETS = {"tax_id": TAX_ID_DE, "iban": IBAN}


def field_list(answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Form answers as PartnerStack's list of field objects, written out in the scenario itself."""
    return [
        {"api_name": name, "field_key": f"fk_{i:04d}", "internal_name": f"custom_{name}", "name": name.title(),
         "type": "text", "value": value, "options": []}
        for i, (name, value) in enumerate(reversed(answers.items()))
    ]


def sentinel_scenario(shape: str = "object") -> dict[str, Any]:
    """consio-example with sentinel secrets in one of the shapes PartnerStack may send them in.

    `object`: a plain `fields` object (the sandbox serves it as the list); `list`: Ada's in the list
    of field objects, with copies in `meta` (one under another name) and `field_data`, Bob's in
    `field_data` only; `meta`: Ada's in the deprecated `meta` only, Bob's in the list.
    """
    doc: dict[str, Any] = json.loads((SCENARIOS / "consio-example.json").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    ada, bob = doc["partnerstack"]["partnerships"]
    for partner in (ada, bob):  # the example's own numbers out: each shape below is the only source
        partner["fields"] = {k: v for k, v in partner["fields"].items() if k not in (*ADA_SECRETS, *BOB_SECRETS)}
    if shape == "object":
        ada["fields"].update(ADA_SECRETS)
        bob["fields"].update(BOB_SECRETS)
    elif shape == "list":
        ada["fields"] = field_list({**ada["fields"], **ADA_SECRETS})
        ada["meta"] = {**ADA_SECRETS, "old_tax_number": TAX_ID_US.replace("-", "")}
        ada["field_data"] = dict(ADA_SECRETS)
        bob["field_data"] = dict(BOB_SECRETS)
    else:
        ada["meta"] = dict(ADA_SECRETS)
        bob["fields"] = field_list({**bob["fields"], **BOB_SECRETS})
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


@pytest.mark.parametrize(("shape", "legacy"), [("object", False), ("list", False), ("meta", True)])
def test_no_secret_or_personal_number_appears_in_full_anywhere(
    tmp_path: Path, database_url: str, engine: Engine, shape: str, legacy: bool
) -> None:
    secrets = {"stripe": {"api_key": STRIPE_KEY}, "partnerstack": {"public_key": PS_PUBLIC, "secret_key": PS_SECRET},
               "security": {"fingerprint_key": FINGERPRINT_KEY}}
    with SandboxServer(sentinel_scenario(shape), stripe_key=STRIPE_KEY, partnerstack_keys=(PS_PUBLIC, PS_SECRET),
                       legacy_field_data=legacy) as sandbox:
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
    with engine.connect() as conn:  # every secret was read (its shape is understood), none was stored
        partners = {r.key: (r.tax_id_last4, r.bank_kind, r.bank_last4) for r in conn.execute(select(models.Partner))}
    assert partners == {"part_ada": ("3645", "account", "5507"), "part_bob": ("3645", "iban", "2736")}
