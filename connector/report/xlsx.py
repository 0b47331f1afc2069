"""XLSX: one sheet per section, frozen header row, set column widths, and money as
real numbers in major units with the currency's own number format.

The number is written as an exact `Decimal` (openpyxl stores its digits verbatim), so
a cell holds 1234.5 exactly as finance sees it, and sums in Excel tie out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from connector.money import excel_number_format, to_major
from connector.report.model import Report
from connector.report.sections import Cell, Money, report_sections

DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
MAX_WIDTH = 60


def _value(cell: Cell) -> object:
    if isinstance(cell, Money):
        return to_major(cell.amount_minor, cell.currency)
    if isinstance(cell, dt.datetime):
        # Excel has no zones: write the UTC wall time (the column header says UTC).
        return cell.astimezone(dt.UTC).replace(tzinfo=None)
    return cell


def _shown_width(cell: Cell) -> int:
    if cell is None:
        return 0
    if isinstance(cell, Money):
        return len(f"{to_major(cell.amount_minor, cell.currency):,}") + 5
    if isinstance(cell, dt.datetime):
        return len(DATE_FORMAT)
    return len(str(cell))


def write_xlsx(report: Report, output: Path) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for section in report_sections(report):
        sheet = workbook.create_sheet(section.name[:31])
        header = [f"{c} (UTC)" if c.endswith("_at") or c == "as_of" else c for c in section.columns]
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in section.rows:
            sheet.append([_value(c) for c in row])
            written = sheet[sheet.max_row]
            for target, source in zip(written, row, strict=True):
                if isinstance(source, Money):
                    target.number_format = excel_number_format(source.currency)
                elif isinstance(source, dt.datetime):
                    target.number_format = DATE_FORMAT
        sheet.freeze_panes = "A2"
        for index, name in enumerate(header, start=1):
            widest = max([len(name), *(_shown_width(r[index - 1]) for r in section.rows)])
            sheet.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, widest + 2)
    output.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(output)
    return output
