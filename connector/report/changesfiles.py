"""What one run (`--changes`) or every run after one (`--since-run ID`) changed, as XLSX and HTML.

The same body as the JSON (`changes.changes_dict`), with what a person needs beside it: the
partner's name and link, each entry's note and Stripe sources. The workbook has a **Summary**
sheet (the runs, what they booked per currency) and a **Changes** sheet (one row per history row:
booked, or moved from one status to another; frozen header, autofilter, printed landscape one
page wide with the header repeated). Its document dates are the last change's time, not the
clock, so the same changes give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from connector.money import format_money
from connector.report.html import _environment
from connector.report.periodview import Extras, extras_for, instant
from connector.report.periodxlsx import fixed_bytes
from connector.report.readable import Links
from connector.report.sections import Cell, Linked, Money, Section
from connector.report.xlsx import _stacked, _table_sheet

TEMPLATE = "changes.html.j2"
_EPOCH = dt.datetime(1980, 1, 1)  # the zip epoch: the stamp of a workbook with no change in it


def changes_extras(session: Session, body: dict[str, Any], links: Links) -> Extras:
    changes = body["changes"]
    return extras_for(session, {c["partner_key"] for c in changes}, set(), {c["entry_key"] for c in changes}, links)


def changes_title(body: dict[str, Any]) -> str:
    return f"Changes · {body['program']} · run(s) {', '.join(body['runs']) or 'none'}"


def _what(change: dict[str, Any]) -> str:
    return f"booked as {change['after']}" if change["before"] is None else f"{change['before']} → {change['after']}"


def changes_section(body: dict[str, Any], extras: Extras) -> Section:
    rows: list[list[Cell]] = []
    for c in body["changes"]:
        key, partner = c["entry_key"], c["partner_key"]
        sources = extras.sources.get(key, [])
        rows.append([
            instant(c["at"]), c["cause"], _what(c), Linked(partner, extras.links.partner(partner)),
            extras.names.partner(partner), c["kind"], Money(int(c["amount_minor"]), c["currency"]),
            c["currency"].upper(), Linked(" ".join(sources), extras.links.stripe(sources[0]) if sources else None),
            c["run_id"], key, extras.notes.get(key),
        ])  # fmt: skip
    columns = ["at", "cause", "change", "partner_key", "partner_name", "kind", "amount", "currency", "sources",
               "run_id", "entry_key", "note"]  # fmt: skip
    return Section("changes", columns, rows)


def summary_sections(body: dict[str, Any]) -> list[Section]:
    runs: list[list[Cell]] = [[run] for run in body["runs"]]
    booked: list[list[Cell]] = [[c.upper(), Money(int(v), c)] for c, v in body["booked_minor"].items()]
    moved = sum(1 for c in body["changes"] if c["cause"] != "booked")
    return [Section(changes_title(body), ["run"], runs), Section("booked", ["currency", "booked"], booked),
            Section("status_moves", ["status_moves"], [[moved]])]  # fmt: skip


def changes_xlsx_bytes(body: dict[str, Any], extras: Extras) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    _stacked(workbook, "Summary", summary_sections(body))
    _table_sheet(workbook, changes_section(body, extras))
    workbook.properties.title = changes_title(body)
    times = [t for t in (instant(c["at"]) for c in body["changes"]) if t is not None]
    return fixed_bytes(workbook, max(times).replace(tzinfo=None) if times else _EPOCH)


def write_changes_xlsx(body: dict[str, Any], extras: Extras, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(changes_xlsx_bytes(body, extras))
    return output


def render_changes_html(body: dict[str, Any], extras: Extras) -> str:
    env = _environment()
    env.filters["instant"] = instant
    moved = sum(1 for c in body["changes"] if c["cause"] != "booked")
    return env.get_template(TEMPLATE).render(
        body=body, title=changes_title(body), names=extras.names, links=extras.links, notes=extras.notes,
        sources=extras.sources, money=format_money, what=_what, moved=moved,
    )


def write_changes_html(body: dict[str, Any], extras: Extras, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_changes_html(body, extras), encoding="utf-8")
    return output
