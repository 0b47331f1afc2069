"""The year-end 1099-NEC list: US partners, what was actually paid to them in a calendar year, in USD.

"Actually paid" is the platform's word, not the push: an entry counts in the year in which its
reward first reached the platform status `paid` (the `at` of that row in `entry_status_history`,
the as-of of the run that read it back). A clawback paid (deducted) counts negative in its year.
The amount is the entry's payout in the reward currency, which must be USD (an entry paid in
another payout currency is left out and named in the notes).

US partners by the program's country rule (`rules.gates.required_tax_form` says W-9: country US).
A W-9 is on file when the partner's tax form is a W-9 and a tax id is present; the list shows the
last four of the tax id only (the connector never stores more). Reportable at or above the year's
threshold (`[tax] nec_thresholds`: $600 through 2025, $2,000 for 2026). Partners over the threshold
without a W-9 come first, flagged; then the others over it; then the rest, each by amount.

CSV and XLSX in the column order of 1099-NEC import templates: the recipient (reference, name, TIN
last four, address, e-mail), Box 1 nonemployee compensation, Box 4 federal tax withheld, then the
connector's own columns (W-9 on file, threshold, reportable, flag, cents, payments).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.money import format_money, to_major
from connector.store.models import EntryStatusMove, LedgerEntry, Partner

PAID = "paid"
FLAG = "over threshold without a W-9"

COLUMNS = [
    "reference_id", "recipient_name", "recipient_tin_last4", "address_city", "address_country", "recipient_email",
    "box1_nonemployee_compensation", "box4_federal_income_tax_withheld", "w9_on_file", "threshold",
    "over_threshold", "flag", "total_paid_minor", "payments",
]  # fmt: skip


@dataclass
class NecRow:
    partner_key: str
    name: str
    tin_last4: str | None
    city: str | None
    country: str | None
    email: str | None
    w9_on_file: bool
    total_minor: int = 0
    payments: int = 0

    def over(self, threshold: int) -> bool:
        return self.total_minor >= threshold


@dataclass
class NecList:
    program: str
    year: int
    threshold_minor: int
    rows: list[NecRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def ordered(self) -> list[NecRow]:
        t = self.threshold_minor
        return sorted(self.rows, key=lambda r: (not (r.over(t) and not r.w9_on_file), not r.over(t),
                                                -r.total_minor, r.partner_key))  # fmt: skip

    def cells(self, r: NecRow) -> list[Any]:
        t = self.threshold_minor
        return [
            r.partner_key, r.name, r.tin_last4 or "", r.city or "", r.country or "", r.email or "",
            to_major(r.total_minor, "usd"), to_major(0, "usd"), "yes" if r.w9_on_file else "no", to_major(t, "usd"),
            "yes" if r.over(t) else "no", FLAG if r.over(t) and not r.w9_on_file else "", r.total_minor, r.payments,
        ]  # fmt: skip


def is_us(country: str | None) -> bool:
    """The program's country rule: a US partner is one the W-9 applies to (`required_tax_form`)."""
    return (country or "").strip().upper() in ("US", "USA")


def w9_on_file(partner: Partner) -> bool:
    return re.sub(r"[^A-Z0-9]", "", (partner.tax_form or "").upper()) == "W9" and bool(partner.tax_id_present)


def paid_in(session: Session, program: str, year: int) -> dict[str, dt.datetime]:
    """Entry key -> when its reward first reached the platform status `paid`, for those that did in `year`."""
    first: dict[str, dt.datetime] = {}
    stmt = (
        select(EntryStatusMove.entry_key, EntryStatusMove.at)
        .where(EntryStatusMove.program == program, EntryStatusMove.platform_status == PAID)
        .order_by(EntryStatusMove.id)
    )
    for key, at in session.execute(stmt):
        if key not in first or at < first[key]:
            first[key] = at
    return {k: at for k, at in first.items() if at.astimezone(dt.UTC).year == year}


def nec_list(session: Session, program: str, year: int, threshold_minor: int) -> NecList:
    out = NecList(program, year, threshold_minor)
    paid = paid_in(session, program, year)
    by_partner: dict[str, list[LedgerEntry]] = defaultdict(list)
    keys = sorted(paid)
    for i in range(0, len(keys), 500):
        for e in session.scalars(select(LedgerEntry).where(LedgerEntry.entry_key.in_(keys[i : i + 500]))):
            by_partner[e.partnership_key].append(e)
    partners = {p.key: p for p in session.scalars(select(Partner).where(Partner.key.in_(sorted(by_partner))))}
    other_currency = 0
    for key in sorted(by_partner):
        partner = partners.get(key)
        if partner is None or not is_us(partner.country):
            continue
        name = partner.company_name or " ".join(n for n in (partner.first_name, partner.last_name) if n) or key
        row = NecRow(key, name, partner.tax_id_last4, partner.city, partner.country, partner.email, w9_on_file(partner))
        for e in by_partner[key]:
            if (e.payout_currency or "").lower() != "usd" or e.payout_amount_minor is None:
                other_currency += 1
                continue
            row.total_minor += e.payout_amount_minor
            row.payments += 1
        if row.payments:
            out.rows.append(row)
    if other_currency:
        out.notes.append(f"{other_currency} paid entr(ies) of US partners have no USD payout and are left out")
    return out


# ---------------------------------------------------------------- renderers


def _text(value: Any) -> str:
    return str(value)


def nec_dict(n: NecList) -> dict[str, Any]:
    return {
        "program": n.program, "tax_year": n.year, "threshold_minor": n.threshold_minor, "currency": "usd",
        "partners": [dict(zip(COLUMNS, [c if isinstance(c, int | str) else str(c) for c in n.cells(r)], strict=True))
                     for r in n.ordered()],
        "notes": n.notes,
    }  # fmt: skip


def render_table(n: NecList, width: int = 160) -> str:
    import io

    from rich.console import Console
    from rich.table import Table

    t = n.threshold_minor
    table = Table(title=f"1099-NEC {n.year} · {n.program} · threshold {format_money(t, 'usd')}", title_justify="left")
    for c in ("flag", "partner", "name", "TIN", "paid", "W-9", "reportable", "payments"):
        table.add_column(c, justify="right" if c in ("paid", "payments") else "left")
    for r in n.ordered():
        table.add_row(FLAG if r.over(t) and not r.w9_on_file else "", r.partner_key, r.name,
                      f"***-**-{r.tin_last4}" if r.tin_last4 else "", format_money(r.total_minor, "usd"),
                      "yes" if r.w9_on_file else "no", "yes" if r.over(t) else "no", str(r.payments))  # fmt: skip
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(table)
    for note in n.notes:
        console.print(f"note: {note}", markup=False)
    return buffer.getvalue()


def write_nec(n: NecList, fmt: str, output: Path | None) -> str:
    """table/json: the text (also written to `output` if given); csv/xlsx: written to `output`, its path."""
    if fmt in ("table", "json"):
        text = render_table(n) if fmt == "table" else json.dumps(nec_dict(n), indent=2) + "\n"
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        return text
    if output is None:
        raise ValueError(f"the {fmt} 1099-NEC list needs an output path")
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with output.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            writer.writerows([_text(c) for c in n.cells(r)] for r in n.ordered())
        return str(output)
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Font

        from connector.money import excel_number_format

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = f"1099-NEC {n.year}"
        sheet.append(COLUMNS)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        money = {COLUMNS.index(c) for c in ("box1_nonemployee_compensation", "box4_federal_income_tax_withheld",
                                            "threshold")}  # fmt: skip
        for r in n.ordered():
            sheet.append(n.cells(r))
            for i in money:
                sheet.cell(sheet.max_row, i + 1).number_format = excel_number_format("usd")
        sheet.freeze_panes = "A2"
        workbook.save(output)
        return str(output)
    raise ValueError(f"the 1099-NEC list comes as table, json, csv or xlsx, not {fmt}")
