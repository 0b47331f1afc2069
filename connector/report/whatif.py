"""The what-if report: what a recompute under another program file (or mappings) would change.

`connector.run.whatif` computes it in a rolled-back transaction; this module holds the result as
plain data and renders it in every report format (table, JSON, CSV, XLSX, HTML), from one set of
sections so the formats cannot disagree.

Per partner, customer and currency: what would be **booked** (new positive entries), **taken back**
(new negative entries: corrections and clawbacks), their net, and what would be newly **held** or
**released** (entries, new or booked, whose status would become `held`, or go from `held` to `payable`). Then
every entry the recompute would append and every booked entry whose status would move.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.ledger.entries import EntryRow
from connector.money import format_money, iso_utc
from connector.report.csvfmt import cell_text, write_sections
from connector.report.sections import Cell, Money, Section

FORMATS = ("table", "json", "csv", "xlsx", "html")


@dataclass(frozen=True)
class EntryChange:
    """An entry the recompute would append (`before_status` None) or whose status would move."""

    entry_key: str
    partnership_key: str
    customer_key: str | None
    kind: str
    amount_minor: int
    currency: str
    before_status: str | None
    before_reason: str | None
    status: str
    reason: str | None
    basis_minor: int
    rate: str
    sources: tuple[str, ...]
    event_at: dt.datetime | None
    payout_amount_minor: int | None
    payout_currency: str | None

    @property
    def appended(self) -> bool:
        return self.before_status is None

    @property
    def change(self) -> str:
        if not self.appended:
            return "moved"
        return "booked" if self.amount_minor > 0 else "taken back"


@dataclass
class PartyDiff:
    """One partner's difference on one customer, in one currency."""

    partnership_key: str
    customer_key: str | None
    currency: str
    booked_minor: int = 0
    taken_back_minor: int = 0
    held_minor: int = 0  # would become held (new entries held, or booked ones moving to held)
    released_minor: int = 0  # held now, would be payable
    appended: int = 0
    moved: int = 0

    @property
    def net_minor(self) -> int:
        return self.booked_minor + self.taken_back_minor


@dataclass
class WhatIf:
    program: str
    program_file: str | None
    mappings_dir: str | None
    as_of: dt.datetime
    changes: list[EntryChange]
    decisions: dict[str, int] = field(default_factory=dict)
    remapped: dict[str, int] = field(default_factory=dict)  # stream -> payloads mapped again
    findings: dict[str, int] = field(default_factory=dict)

    @property
    def appended(self) -> list[EntryChange]:
        return [c for c in self.changes if c.appended]

    @property
    def moved(self) -> list[EntryChange]:
        return [c for c in self.changes if not c.appended]

    def parties(self) -> list[PartyDiff]:
        out: dict[tuple[str, str | None, str], PartyDiff] = {}
        for c in self.changes:
            key = (c.partnership_key, c.customer_key, c.currency)
            d = out.setdefault(key, PartyDiff(*key))
            if c.appended:
                d.appended += 1
                if c.amount_minor > 0:
                    d.booked_minor += c.amount_minor
                else:
                    d.taken_back_minor += c.amount_minor
            else:
                d.moved += 1
            if c.status == "held" and c.before_status != "held":
                d.held_minor += c.amount_minor
            if c.before_status == "held" and c.status == "payable":
                d.released_minor += c.amount_minor
        return [out[k] for k in sorted(out, key=lambda k: (k[0], k[1] or "", k[2]))]

    def totals(self) -> list[PartyDiff]:
        """The same sums per currency (partner and customer left empty)."""
        out: dict[str, PartyDiff] = {}
        for d in self.parties():
            t = out.setdefault(d.currency, PartyDiff("", None, d.currency))
            t.booked_minor += d.booked_minor
            t.taken_back_minor += d.taken_back_minor
            t.held_minor += d.held_minor
            t.released_minor += d.released_minor
            t.appended += d.appended
            t.moved += d.moved
        return [out[c] for c in sorted(out)]


def diff_ledgers(before: Mapping[str, EntryRow], after: Mapping[str, EntryRow]) -> list[EntryChange]:
    """Entries in `after` not in `before`, and entries whose status or reason differs, in key order."""
    out = []
    for key in sorted(after):
        now = after[key]
        was = before.get(key)
        if was is not None and (was.status, was.reason) == (now.status, now.reason):
            continue
        out.append(EntryChange(
            entry_key=key, partnership_key=now.partnership_key, customer_key=now.customer_key, kind=now.kind,
            amount_minor=now.amount_minor, currency=now.currency,
            before_status=None if was is None else was.status, before_reason=None if was is None else was.reason,
            status=now.status, reason=now.reason, basis_minor=now.basis_minor, rate=now.rate, sources=now.sources,
            event_at=now.event_at, payout_amount_minor=now.payout_amount_minor, payout_currency=now.payout_currency,
        ))  # fmt: skip
    return out


# ---------------------------------------------------------------- sections (CSV, XLSX, HTML, table)

PARTY_COLUMNS = ["partner_key", "customer_key", "currency", "booked", "taken_back", "net", "held", "released",
                 "booked_minor", "taken_back_minor", "net_minor", "held_minor", "released_minor", "appended", "moved"]
CHANGE_COLUMNS = ["change", "entry_key", "partner_key", "customer_key", "kind", "amount", "amount_minor", "currency",
                  "status_now", "reason_now", "status", "reason", "basis_minor", "rate", "sources", "event_at",
                  "payout_amount_minor", "payout_currency"]


def _party_cells(d: PartyDiff) -> list[Cell]:
    cur = d.currency
    return [d.partnership_key or "total", d.customer_key, cur, Money(d.booked_minor, cur),
            Money(d.taken_back_minor, cur), Money(d.net_minor, cur), Money(d.held_minor, cur),
            Money(d.released_minor, cur), d.booked_minor, d.taken_back_minor, d.net_minor, d.held_minor,
            d.released_minor, d.appended, d.moved]  # fmt: skip


def _change_cells(c: EntryChange) -> list[Cell]:
    return [c.change, c.entry_key, c.partnership_key, c.customer_key, c.kind, Money(c.amount_minor, c.currency),
            c.amount_minor, c.currency, c.before_status, c.before_reason, c.status, c.reason, c.basis_minor, c.rate,
            " ".join(c.sources), c.event_at, c.payout_amount_minor, c.payout_currency]  # fmt: skip


def whatif_sections(w: WhatIf) -> list[Section]:
    about: list[list[Cell]] = [
        ["program", w.program], ["program_file", w.program_file], ["mappings_dir", w.mappings_dir],
        ["as_of", w.as_of], ["entries_appended", len(w.appended)], ["statuses_moved", len(w.moved)],
    ]
    for prefix, counts in (("decisions", w.decisions), ("remapped", w.remapped), ("findings", w.findings)):
        about.extend([f"{prefix}.{k}", v] for k, v in sorted(counts.items()))
    about.append(["written", "nothing: computed in a transaction that was rolled back"])
    return [
        Section("whatif", ["field", "value"], about),
        Section("totals", PARTY_COLUMNS, [_party_cells(d) for d in w.totals()]),
        Section("by_partner_customer", PARTY_COLUMNS, [_party_cells(d) for d in w.parties()]),
        Section("entries", CHANGE_COLUMNS, [_change_cells(c) for c in w.changes]),
    ]


def whatif_dict(w: WhatIf) -> dict[str, Any]:
    def party(d: PartyDiff) -> dict[str, Any]:
        return {"partner_key": d.partnership_key or None, "customer_key": d.customer_key, "currency": d.currency,
                "booked_minor": d.booked_minor, "taken_back_minor": d.taken_back_minor, "net_minor": d.net_minor,
                "held_minor": d.held_minor, "released_minor": d.released_minor, "appended": d.appended,
                "moved": d.moved}  # fmt: skip

    return {
        "program": w.program, "program_file": w.program_file, "mappings_dir": w.mappings_dir,
        "as_of": iso_utc(w.as_of), "written": False, "decisions": w.decisions, "remapped": w.remapped,
        "findings": w.findings,
        "totals": {d.currency: party(d) for d in w.totals()},
        "by_partner_customer": [party(d) for d in w.parties()],
        "entries": [
            {"change": c.change, "entry_key": c.entry_key, "partner_key": c.partnership_key,
             "customer_key": c.customer_key, "kind": c.kind, "amount_minor": c.amount_minor, "currency": c.currency,
             "status_now": c.before_status, "reason_now": c.before_reason, "status": c.status, "reason": c.reason,
             "basis_minor": c.basis_minor, "rate": c.rate, "sources": list(c.sources), "event_at": iso_utc(c.event_at),
             "payout_amount_minor": c.payout_amount_minor, "payout_currency": c.payout_currency}
            for c in w.changes
        ],
    }  # fmt: skip


def _shown(cell: Cell) -> str:
    if isinstance(cell, Money):
        return format_money(cell.amount_minor, cell.currency)
    return cell_text(cell)


def render_table(w: WhatIf, width: int = 160) -> str:
    from rich.console import Console, Group
    from rich.table import Table

    parts = []
    for section in whatif_sections(w):
        columns = [c for c in section.columns if not (c.endswith("_minor") and section.name != "entries")]
        keep = [section.columns.index(c) for c in columns]
        table = Table(title=section.name.replace("_", " "), title_justify="left")
        for c in columns:
            table.add_column(c)
        for row in section.rows:
            table.add_row(*[_shown(row[i]) for i in keep])
        parts.append(table)
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(Group(*parts))
    return buffer.getvalue()


def render_html(w: WhatIf) -> str:
    out = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>What-if · {html.escape(w.program)}</title>",
           "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
           "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>",
           f"<h1>What-if · {html.escape(w.program)}</h1>"]  # fmt: skip
    for section in whatif_sections(w):
        out.append(f"<section id=\"{section.name}\"><h2>{html.escape(section.name.replace('_', ' '))}</h2><table>")
        out.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in section.columns) + "</tr>")
        for row in section.rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(_shown(c))}</td>" for c in row) + "</tr>")
        out.append("</table></section>")
    out.append("</body></html>\n")
    return "\n".join(out)


def write_csv(w: WhatIf, output: Path) -> Path:
    """`output.csv`: one file with a `section` column; `.zip` or any other path: `<section>.csv` files."""
    return write_sections(whatif_sections(w), output)


def write_xlsx(w: WhatIf, output: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from connector.money import excel_number_format
    from connector.report.xlsx import TIME_FORMAT, _value

    workbook = Workbook()
    workbook.remove(workbook.active)
    for section in whatif_sections(w):
        sheet = workbook.create_sheet(section.name[:31])
        sheet.append(section.columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in section.rows:
            sheet.append([_value(c) for c in row])
            for target, source in zip(sheet[sheet.max_row], row, strict=True):
                if isinstance(source, Money):
                    target.number_format = excel_number_format(source.currency)
                elif isinstance(source, dt.datetime):
                    target.number_format = TIME_FORMAT
        sheet.freeze_panes = "A2"
    output.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(output)
    return output


def render_whatif(w: WhatIf, fmt: str, output: Path | None) -> str:
    """Text formats return their text (also written to `output` if given); file formats need `output`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt in ("table", "json", "html"):
        text = {"table": render_table, "html": render_html}.get(fmt, lambda x: json.dumps(
            whatif_dict(x), indent=2, ensure_ascii=False) + "\n")(w)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
            return str(output)
        return text
    if output is None:
        raise ValueError(f"the {fmt} what-if needs --output")
    return str((write_csv if fmt == "csv" else write_xlsx)(w, output))
