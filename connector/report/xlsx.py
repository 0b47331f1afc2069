"""XLSX: a workbook finance opens, filters and prints.

Layout: a **Summary** sheet (the run, totals per currency, the partners' subtotals, payout
totals, the tie-out checks, one block under the other, in words and money without the minor-unit
columns), one sheet per table that is read row
by row (**Entries**, **Submissions**, and any section added later), and a **Run details** sheet
(streams pulled, partners, quarantined records, findings, notes). Held and pushed entries are
not repeated: the Entries sheet has an autofilter on Status.

Why this shape: one sheet per section printed as 38 pages (each near-empty sheet is a page of
its own, each wide one spread over several). Every sheet prints landscape, fitted to one page
wide, its header row repeated on every page, with a footer naming sheet and page. Columns for
machines (`*_minor`, the entry key, run ids) stay in the workbook but are grouped and hidden,
so they do not print; the CSV carries them as they are.

Cells: money is a real number in major units with the currency's own format, written as an exact
`Decimal` (openpyxl stores its digits verbatim), so sums in Excel tie out; rates are numbers;
dates are dates; partner, customer and Stripe object cells link to PartnerStack and the Stripe
dashboard; headers are words, not field names.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from connector.money import excel_number_format, to_major
from connector.report.model import Report
from connector.report.sections import Cell, Linked, Money, Section, report_sections

TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
RATE_FORMAT = "0.00######"
MAX_WIDTH = 48
LINE_HEIGHT = 13.5  # points per line of 11-point text
SUMMARY = ("run", "totals", "by_partner", "payout_totals", "checks")
DETAILS = ("pulled", "partners", "quarantined", "findings", "notes")
NOT_REPEATED = ("held", "pushed")  # filters of the Entries sheet
SHEET_TITLES = {"entries": "Entries", "submissions": "Submissions", "payout_audit": "Payout audit"}
DATE_COLUMNS = ("event_at", "payable_at", "submitted_at")  # a day, not a moment
RATE_COLUMNS = ("rate", "fx_rate")
MACHINE_COLUMNS = ("entry_key", "created_run_id", "pushed_run_id", "run_id", "fx_source")
_HEADER_FILL = PatternFill("solid", fgColor="E9EEF8")

_WORDS = {
    "fx": "FX", "id": "id", "key": "key", "last4": "(last 4)", "kind": "kind", "as": "as", "of": "of",
}
_HEADERS = {
    "partner_key": "Partner", "partner_name": "Partner name", "customer_key": "Customer",
    "customer_name": "Customer name", "platform_reward_key": "PartnerStack reward", "sources": "Stripe sources",
    "payout": "Payout", "payout_currency": "Payout currency", "holds": "Holds", "name": "Name", "key": "Partner",
    "subject_key": "Subject", "submission_key": "Submission", "submission_type": "Type",
}


def human_header(column: str) -> str:
    """`amount_minor` → `Amount (minor units)`, `event_at` → `Event (UTC)`, `fx_rate` → `FX rate`."""
    if column in _HEADERS:
        return _HEADERS[column]
    if column.endswith("_minor"):
        return f"{human_header(column.removesuffix('_minor'))} (minor units)"
    if column.endswith("_at") and column not in DATE_COLUMNS:
        return f"{human_header(column.removesuffix('_at'))} (UTC)"
    if column.endswith("_at"):
        return human_header(column.removesuffix("_at")) + " date"
    words = [_WORDS.get(w, w) for w in column.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _is_machine(column: str) -> bool:
    return column.endswith("_minor") or column in MACHINE_COLUMNS


def _value(cell: Cell, column: str = "") -> object:
    if isinstance(cell, Money):
        return to_major(cell.amount_minor, cell.currency)
    if isinstance(cell, Linked):
        return cell.text
    if isinstance(cell, dt.datetime):
        # Excel has no zones: write the UTC wall time (the header says UTC, or it is a date).
        utc = cell.astimezone(dt.UTC).replace(tzinfo=None)
        return utc.date() if column in DATE_COLUMNS else utc
    if isinstance(cell, str) and column in RATE_COLUMNS:
        try:
            return Decimal(cell)
        except InvalidOperation:
            return cell
    return cell


def _shown_width(cell: Cell) -> int:
    if cell is None:
        return 0
    if isinstance(cell, Money):
        return len(f"{to_major(cell.amount_minor, cell.currency):,}") + 5
    if isinstance(cell, Linked):
        return len(cell.text)
    if isinstance(cell, dt.datetime):
        return len(TIME_FORMAT)
    return len(str(cell))


class _Sheet:
    """A worksheet being filled: the next free row and the widest text seen per column."""

    def __init__(self, sheet: Worksheet) -> None:
        self.sheet = sheet
        self.row = 1
        self.widths: dict[int, int] = {}
        self.machine: set[int] = set()
        self.lines: dict[int, int] = {}  # per row: lines its tallest wrapped cell takes

    def _width(self, column: int, width: int) -> None:
        self.widths[column] = max(self.widths.get(column, 0), width)

    def title(self, text: str) -> None:
        cell = self.sheet.cell(row=self.row, column=1, value=text)
        cell.font = Font(bold=True, size=13)
        self.row += 1

    def table(self, section: Section, *, hide_machine: bool) -> tuple[int, int]:
        """Header and rows from the current row; returns (header row, last row)."""
        header_row = self.row
        for index, name in enumerate(section.columns, start=1):
            text = human_header(name)
            cell = self.sheet.cell(row=header_row, column=index, value=text)
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            self._width(index, min(len(text), 18))
            if hide_machine and _is_machine(name):
                self.machine.add(index)
        for values in section.rows:
            self.row += 1
            for index, (name, source) in enumerate(zip(section.columns, values, strict=True), start=1):
                self._write(self.row, index, name, source)
        self.row += 1
        return header_row, self.row - 1

    def _write(self, row: int, column: int, name: str, source: Cell) -> None:
        target = self.sheet.cell(row=row, column=column, value=_value(source, name))
        if isinstance(source, Money):
            target.number_format = excel_number_format(source.currency)
        elif isinstance(source, dt.datetime):
            target.number_format = DATE_FORMAT if name in DATE_COLUMNS else TIME_FORMAT
        elif isinstance(source, Linked) and source.url:
            target.hyperlink = source.url
            target.font = Font(color="2F5FB3", underline="single")
        elif name in RATE_COLUMNS and isinstance(target.value, Decimal):
            target.number_format = RATE_FORMAT
        width = _shown_width(source)
        if width > MAX_WIDTH:
            target.alignment = Alignment(wrap_text=True, vertical="top")
            self.lines[row] = max(self.lines.get(row, 1), -(-width // (MAX_WIDTH - 4)))
        self._width(column, width)

    def finish(self) -> None:
        for column, width in self.widths.items():
            dim = self.sheet.column_dimensions[get_column_letter(column)]
            dim.width = min(MAX_WIDTH, width + 2)
            if column in self.machine:
                dim.outline_level = 1
                dim.hidden = True
        # Spreadsheets do not grow a row for wrapped text they did not lay out themselves (LibreOffice
        # prints it over the next rows): give each such row the height of its lines.
        for row, lines in self.lines.items():
            self.sheet.row_dimensions[row].height = LINE_HEIGHT * lines
        _print_setup(self.sheet)


def _print_setup(sheet: Worksheet) -> None:
    """Landscape A4, one page wide (as many tall as it takes), header row on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5
    sheet.oddFooter.center.text = "&A · page &P of &N"


def _for_people(section: Section) -> Section:
    """The section without its machine columns (blocks stacked on a sheet share its columns, so
    they cannot be hidden per block; the CSV keeps them)."""
    keep = [i for i, name in enumerate(section.columns) if not _is_machine(name)]
    return Section(section.name, [section.columns[i] for i in keep], [[row[i] for i in keep] for row in section.rows])


def _stacked(workbook: Workbook, title: str, sections: list[Section]) -> None:
    """Small sections one under the other on one sheet, each under its name."""
    sheet = _Sheet(workbook.create_sheet(title))
    for section in sections:
        sheet.title(human_header(section.name))
        if section.rows:
            sheet.table(_for_people(section), hide_machine=False)
        else:
            sheet.sheet.cell(row=sheet.row, column=1, value="none").font = Font(italic=True)
            sheet.row += 1
        sheet.row += 1
    sheet.finish()


def _table_sheet(workbook: Workbook, section: Section) -> None:
    """A section read row by row: frozen, filterable, its header repeated on every printed page."""
    sheet = _Sheet(workbook.create_sheet(SHEET_TITLES.get(section.name, human_header(section.name))[:31]))
    header_row, last_row = sheet.table(section, hide_machine=True)
    sheet.sheet.freeze_panes = "A2"
    sheet.sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(section.columns))}{max(last_row, header_row)}"
    sheet.sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.finish()


def write_xlsx(report: Report, output: Path) -> Path:
    sections = report_sections(report)
    by_name = {s.name: s for s in sections}
    workbook = Workbook()
    workbook.remove(workbook.active)
    _stacked(workbook, "Summary", [by_name[n] for n in SUMMARY if n in by_name])
    for section in sections:
        if section.name not in (*SUMMARY, *DETAILS, *NOT_REPEATED):
            _table_sheet(workbook, section)
    _stacked(workbook, "Run details", [by_name[n] for n in DETAILS if n in by_name])
    output.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(output)
    return output
