"""`connector whatif`: another program file's ledger from the stored world, written nowhere.

The done-when of issue 18: Consio's Master commission period cut from 36 to 24 months reports
exactly the entries (and status moves) a real recompute under that file then books, and the what-if
itself leaves every table as it was. Every report format carries the same numbers.
"""

from __future__ import annotations

import csv
import json
from dataclasses import astuple
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from connector.config import Settings
from connector.ledger.compute import compute
from connector.report.whatif import render_whatif
from connector.rules.program import bundled_program_path, load_program
from connector.run.cli import app
from connector.run.whatif import ledger_state, what_if
from connector.store.db import session_factory, transaction
from connector.store.models import Base, LedgerEntry
from tests.rules.builders import World, context, program

from .conftest import settings_values, write_config

AS_OF = "2029-06-01"


def _world() -> World:
    """A Master partner (36 months) and an Elite one (24) with 40 monthly invoices each; the Elite
    partner's bank details are missing (held). 20 % of 10000 = 2000 an invoice."""
    w = World()
    w.partner("part_ada", group="master")
    w.partner("part_eve", ref="eve", group="master", bank=None)
    w.partner("part_eli", ref="eli", group="elite")
    w.product("prod_sw", "software")
    w.price("price_sw", "prod_sw", 10000)
    for n, partner in enumerate(("ada", "eve", "eli")):
        w.customer(f"cus_{n}")
        w.lead(f"lead_{n}", partner, "2025-12-01", external_key=f"k{n}", email=f"x@c{n}.io")
        w.referral(f"cust_{n}", f"part_{partner}", "2025-12-02", customer_key=f"k{n}", provider_key=f"cus_{n}")
        for m in range(40):
            year, month = 2026 + m // 12, 1 + m % 12
            day = f"{year}-{month:02d}-15"
            w.invoice(f"in_{n}_{m:02d}", f"cus_{n}", day, paid_at=f"{year}-{month:02d}-16",
                      lines=[("price_sw", 10000)])  # fmt: skip
    w.refund("re_0_30", "in_0_30", 5000, "2028-08-01")  # follows in_0_30, which a 24-month period drops
    return w


def _master_24(tmp_path: Path) -> Path:
    text = bundled_program_path("consio").read_text()
    cut = text.replace("period_months = { master = 36,", "period_months = { master = 24,")
    assert cut != text
    path = tmp_path / "consio-master-24.toml"
    path.write_text(cut)
    return path


def _table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = Base.metadata.sorted_tables
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


def _booked(engine: Engine) -> None:
    _world().save(engine)
    compute(context(engine, AS_OF, run_id="r1"), program("consio"))
    with transaction(session_factory(engine)) as s:  # ada's months 24..27 already went out
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.partnership_key == "part_ada",
                   LedgerEntry.group_key.in_([_group(f"in_0_{m}") for m in range(24, 28)]))
            .values(status="pushed", push_state="sent", platform_reward_key="rwd")
        )


def _group(invoice: str) -> str:
    return f"consio|part_ada|cust_0|commission|{invoice}"


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with session_factory(engine)() as s:
        return sorted(astuple(e) for e in ledger_state(s, "consio").values())


def _shape(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows)


def test_whatif_reports_exactly_what_a_real_recompute_books(tmp_path: Path, engine: Engine) -> None:
    _booked(engine)
    other = _master_24(tmp_path)
    settings = Settings(program={"file": str(bundled_program_path("consio"))})
    tables = _table_counts(engine)
    with session_factory(engine)() as s:
        before = ledger_state(s, "consio")
    ledger = _rows(engine)

    w = what_if(settings, engine, program_file=other)
    assert _table_counts(engine) == tables  # written nowhere
    assert _rows(engine) == ledger

    compute(context(engine, AS_OF, run_id="real"), load_program(other))
    with session_factory(engine)() as s:
        after = ledger_state(s, "consio")
    real_appended = [(e.entry_key, e.kind, e.basis_minor, e.rate, e.amount_minor, e.currency, e.status, e.reason,
                      e.sources) for e in after.values() if e.created_run_id == "real"]  # fmt: skip
    real_moved = [(k, before[k].status, e.status, e.reason) for k, e in after.items()
                  if k in before and (before[k].status, before[k].reason) != (e.status, e.reason)]  # fmt: skip
    assert real_appended  # the cut changes something
    assert _shape([(c.entry_key, c.kind, c.basis_minor, c.rate, c.amount_minor, c.currency, c.status, c.reason,
                    c.sources) for c in w.appended]) == _shape(real_appended)  # fmt: skip
    assert _shape([(c.entry_key, c.before_status, c.status, c.reason) for c in w.moved]) == _shape(real_moved)

    # exact: ada and eve lose months 24..35 (12 x 2000); ada's 4 pushed ones are taken back as clawbacks,
    # the 8 unpushed ones reversed with their take-backs; in_0_30's refund clawback (-1000) goes with it
    parties = {(d.partnership_key, d.currency): d for d in w.parties()}
    ada, eve = parties[("part_ada", "usd")], parties[("part_eve", "usd")]
    assert (ada.booked_minor, ada.taken_back_minor, ada.net_minor) == (1000, -24000, -23000)
    assert (eve.booked_minor, eve.taken_back_minor, eve.held_minor, eve.released_minor) == (0, -24000, 0, 0)
    assert ("part_eli", "usd") not in parties  # elite was 24 months already
    appended = sorted((c.entry_key.split("|", 3)[3], c.amount_minor, c.status) for c in w.appended
                      if c.partnership_key == "part_ada")  # fmt: skip
    assert appended == [("clawback|re_0_30#1", 1000, "reversed")] + [
        (f"commission|in_0_{m}#1", -2000, "payable" if m < 28 else "reversed") for m in range(24, 36)]
    moved = sorted((c.entry_key.split("|", 3)[3], c.before_status, c.status) for c in w.moved
                   if c.partnership_key == "part_ada")  # fmt: skip
    assert moved == [("clawback|re_0_30#0", "payable", "reversed")] + [
        (f"commission|in_0_{m}#0", "payable", "reversed") for m in range(28, 36)]


def test_every_format_carries_the_same_numbers(tmp_path: Path, engine: Engine) -> None:
    _booked(engine)
    settings = Settings(program={"file": str(bundled_program_path("consio"))})
    w = what_if(settings, engine, program_file=_master_24(tmp_path))
    doc = json.loads(render_whatif(w, "json", None))
    assert doc["written"] is False and doc["as_of"] == "2029-06-01T00:00:00Z"
    assert doc["totals"]["usd"]["net_minor"] == -47000
    ada = next(p for p in doc["by_partner_customer"] if p["partner_key"] == "part_ada")
    assert (ada["customer_key"], ada["booked_minor"], ada["taken_back_minor"]) == ("cust_0", 1000, -24000)
    table = render_whatif(w, "table", None)
    assert "part_ada" in table and "-230.00 USD" in table
    render_whatif(w, "csv", tmp_path / "whatif")
    with (tmp_path / "whatif" / "by_partner_customer.csv").open() as fh:
        rows = {r["partner_key"]: r for r in csv.DictReader(fh)}
    assert (rows["part_ada"]["net_minor"], rows["part_ada"]["net"]) == ("-23000", "-230.00")
    render_whatif(w, "xlsx", tmp_path / "whatif.xlsx")
    sheet = load_workbook(tmp_path / "whatif.xlsx")["totals"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(2, header.index("net_minor") + 1).value == -47000
    page = render_whatif(w, "html", tmp_path / "whatif.html")
    assert Path(page).read_text().count("part_ada") >= 2
    assert len(doc["entries"]) == len(w.changes)


def test_the_cli_writes_nothing_and_exits_2_without_a_program(tmp_path: Path, database_url: str,
                                                              engine: Engine) -> None:  # fmt: skip
    _booked(engine)
    config = write_config(tmp_path / "c.toml", settings_values(database_url, None,
                                                                program={"file": str(bundled_program_path("consio"))}))
    runner = CliRunner()
    tables = _table_counts(engine)
    result = runner.invoke(app, ["whatif", "--config", str(config), "--program", str(_master_24(tmp_path)),
                                 "--format", "json"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["usd"]["net_minor"] == -47000
    assert _table_counts(engine) == tables
    missing = runner.invoke(app, ["whatif", "--config", str(config)], catch_exceptions=False)
    assert missing.exit_code == 2 and "--program" in missing.stderr


def test_whatif_with_other_mappings_maps_the_stored_payloads_again(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    """The worked example synced through the sandbox, then mapped again: the same files change nothing; a
    folder that reads the invoice's tax from a field the payloads lack (an older Stripe name) takes the
    8000 of tax into the basis: each invoice's commission is corrected by 20 % of 8000, and the refund's
    clawback (50 % of in_A2) by half of that."""
    import shutil

    from connector.mapping import PACKAGE_DIR
    from connector.run.runner import run_once
    from sandbox.server import SandboxServer

    from .conftest import AS_OF as RUN_AS_OF
    from .conftest import CONSIO_EXAMPLE, make_settings

    with SandboxServer(CONSIO_EXAMPLE) as sandbox:
        settings = make_settings(database_url, sandbox, push={"approval": "required"})  # booked, nothing pushed
        run_once(settings, as_of=RUN_AS_OF)
    same, renamed = tmp_path / "same", tmp_path / "renamed"
    shutil.copytree(PACKAGE_DIR, same)
    shutil.copytree(PACKAGE_DIR, renamed)
    path = renamed / "stripe.toml"
    path.write_text(path.read_text().replace('path = "total_taxes[].amount"', 'path = "total_tax_amounts[].amount"'))
    tables, ledger = _table_counts(engine), _rows(engine)

    unchanged = what_if(settings, engine, mappings_dir=same)
    assert unchanged.changes == [] and unchanged.remapped["stripe.invoices"] == 2
    w = what_if(settings, engine, mappings_dir=renamed)
    assert _table_counts(engine) == tables and _rows(engine) == ledger
    assert sorted((c.entry_key.split("|", 3)[3], c.amount_minor, c.status) for c in w.changes) == [
        ("clawback|re_A2#1", -800, "payable"), ("commission|in_A1#1", 1600, "payable"),
        ("commission|in_A2#1", 1600, "payable"),
    ]  # fmt: skip
    (ada,) = w.parties()
    assert (ada.partnership_key, ada.booked_minor, ada.taken_back_minor, ada.net_minor) == (
        "part_ada", 3200, -800, 2400)
