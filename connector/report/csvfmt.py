"""CSV: one file per section in a directory, or one file with a `section` column.

`output` ending in `.csv` gives the single file (its header is the union of every
section's columns, in order of first appearance; each row fills only its own
section's columns); any other path is a directory that gets `<section>.csv` files,
each with its own header. Amounts appear twice: `*_minor` integers for machines and
exact major-unit decimal strings (`1234.50`) for people.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from connector.money import iso_utc, to_major
from connector.report.model import Report
from connector.report.sections import Cell, Money, Section, report_sections


def cell_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Money):
        return str(to_major(cell.amount_minor, cell.currency))
    if isinstance(cell, dt.datetime):
        return iso_utc(cell) or ""
    return str(cell)


def _write_section(path: Path, section: Section) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(section.columns)
        writer.writerows([cell_text(c) for c in row] for row in section.rows)


def _write_single(path: Path, sections: list[Section]) -> None:
    columns: list[str] = []
    for section in sections:
        columns.extend(c for c in section.columns if c not in columns)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["section", *columns])
        writer.writeheader()
        for section in sections:
            for row in section.rows:
                writer.writerow({"section": section.name, **{c: cell_text(v) for c, v in zip(section.columns, row,
                                                                                              strict=True)}})


def write_csv(report: Report, output: Path) -> Path:
    sections = report_sections(report)
    if output.suffix.lower() == ".csv":
        output.parent.mkdir(parents=True, exist_ok=True)
        _write_single(output, sections)
        return output
    output.mkdir(parents=True, exist_ok=True)
    for section in sections:
        _write_section(output / f"{section.name}.csv", section)
    return output
