"""Bad input served by the sandbox: every malformed record is quarantined with a reason, the
rest of the run completes (the worked example's three rewards are still paid), and nothing
ends in a traceback. Streams that never end or loop fail the run with a clear one-line error.

The corpus is `tests/scenarios/bad-input.json`: the Consio worked example plus records with
missing ids, wrong types, null / fractional / negative / huge amounts, unknown currencies,
bad dates, lone surrogates (text that is not valid UTF-8), very long strings and duplicate ids.
Two copies of one id with different content in one page (`in_dup`'s second copy pays 2,000 where
the first paid 1,000) are both quarantined `duplicate_id_conflict` and neither is stored: which
one is right is not known.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from connector.run.cli import app
from connector.store.models import Quarantine, Run
from sandbox.server import SandboxServer

from .conftest import (
    AS_OF,
    SCENARIOS,
    assert_rewards_match_ledger,
    config_file,
    json_log_lines,
    ledger_rows,
    no_traceback,
    run_cli,
)

BAD_INPUT = SCENARIOS / "bad-input.json"
EXPECTED_AMOUNTS = [-10000, 20000, 20000]

# (source, source id or None for a record without one): each must land in quarantine.
QUARANTINED = {
    ("partnerstack.partnerships", None),              # no key
    ("partnerstack.partnerships", "part_baddate"),    # created_at "yesterday-ish"
    ("partnerstack.partnerships", "part_surrogate"),  # lone surrogates in names
    ("partnerstack.partnerships", "part_long"),       # 5,000-character e-mail
    ("partnerstack.customers", None),                 # no key
    ("partnerstack.customers", "cust_wrongtype"),     # partnership_key is a list
    ("partnerstack.leads", None),                     # no key
    ("partnerstack.leads", "lead_baddate"),           # 31/02/2026
    ("stripe.invoices", None),                        # no id
    ("stripe.invoices", "in_nullamount"),             # amount_paid null
    ("stripe.invoices", "in_stringamount"),           # amounts as strings
    ("stripe.invoices", "in_floatamount"),            # 10.5 minor units
    ("stripe.invoices", "in_negative"),               # amount_paid -5000
    ("stripe.invoices", "in_huge"),                   # 10**20, beyond any integer column
    ("stripe.invoices", "in_currency"),               # "xyz"
    ("stripe.invoices", "in_currency_type"),          # 840 (a number)
    ("stripe.invoices", "in_baddate"),                # created "not a date"
    ("stripe.invoices", "in_wronglines"),             # lines is a string
    ("stripe.refunds", "re_null"),                    # amount null
}
CONFLICTS = {
    ("stripe.invoices", "in_dup"),                    # amount_paid 1,000, then 2,000
    ("partnerstack.partnerships", "part_dup"),        # the same key, other content
}


def quarantined(engine: Engine) -> dict[tuple[str, str | None], str]:
    with Session(engine) as session:
        return {(q.source, q.source_id): q.error for q in session.scalars(select(Quarantine))}


def test_bad_records_are_quarantined_and_the_rest_is_paid(tmp_path: Path, database_url: str, engine: Engine) -> None:
    with SandboxServer(BAD_INPUT) as sandbox:
        result = run_cli("sync", "--config", str(config_file(tmp_path, database_url, sandbox)), "--as-of", AS_OF)
        no_traceback(result)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "3 rewards pushed" in result.stdout
        assert sorted(row[3] for row in ledger_rows(engine)) == EXPECTED_AMOUNTS
        assert {row[5] for row in ledger_rows(engine)} == {"pushed"}
        assert_rewards_match_ledger(engine, sandbox)
    found = quarantined(engine)
    assert set(found) == QUARANTINED | CONFLICTS
    assert all(reason.strip() for reason in found.values())
    warnings = [line for line in json_log_lines(result.stderr) if line.get("msg", "").startswith("quarantined ")]
    assert len(warnings) == len(QUARANTINED) + 2 * len(CONFLICTS)  # both copies of each conflict
    with Session(engine) as session:
        reasons = {(q.source, q.source_id): q.reason for q in session.scalars(select(Quarantine))}
        assert {k for k, r in reasons.items() if r == "duplicate_id_conflict"} == CONFLICTS
        assert session.execute(text("SELECT count(*) FROM st_invoices WHERE id = 'in_dup'")).scalar() == 0
        assert session.execute(text("SELECT count(*) FROM ps_partners WHERE key = 'part_dup'")).scalar() == 0
    print(f"bad-input: {len(QUARANTINED) + len(CONFLICTS)} bad records tried, {len(found)} quarantined with a "
          "reason (both copies of the 2 conflicting duplicates), 3 good rewards pushed")


@pytest.mark.parametrize(
    ("misbehaviour", "stream", "page_sizes"),
    [
        ("endless", "partnerstack.leads", {"partnerstack": {"page_size": 1}}),
        ("repeat_cursor", "partnerstack.partnerships", {"partnerstack": {"page_size": 1}}),
        ("endless", "stripe.invoices", {"stripe": {"page_size": 1}}),
        ("repeat_cursor", "stripe.invoices", {"stripe": {"page_size": 1}}),
    ],
)
def test_a_stream_that_never_ends_fails_the_run_clearly_and_the_next_run_recovers(
    tmp_path: Path, database_url: str, engine: Engine, misbehaviour: str, stream: str,
    page_sizes: dict[str, dict[str, int]],
) -> None:
    with SandboxServer(SCENARIOS / "consio-example.json") as sandbox:
        config = config_file(tmp_path, database_url, sandbox, **page_sizes)
        sandbox.set_faults(None, **{misbehaviour: [stream]})
        failed = CliRunner().invoke(app, ["sync", "--config", str(config), "--as-of", AS_OF], catch_exceptions=False)
        assert failed.exit_code == 1, failed.stderr[-2000:]
        (error,) = [line for line in failed.stderr.splitlines() if line.startswith("connector: error: ")]
        assert "pull failed" in error and ("loop" in error or "returned twice" in error), error
        with Session(engine) as session:
            assert session.scalars(select(Run.status)).all() == ["failed"]
        sandbox.set_faults(None)
        recovered = CliRunner().invoke(app, ["sync", "--config", str(config), "--as-of", AS_OF],
                                       catch_exceptions=False)
        assert recovered.exit_code == 0, recovered.stderr[-2000:]
        assert sorted(row[3] for row in ledger_rows(engine)) == EXPECTED_AMOUNTS
        assert_rewards_match_ledger(engine, sandbox)
