"""CSV: one file per section, each with its own stable header, in a zip or a directory.

`output` ending in `.zip` (the default name `connector report` picks) is a zip of
`<section>.csv` files; any other path but `.csv` is a directory that gets the same files.
A section's columns are fixed by the section (`connector.report.sections`), never by the
data, so a script reading `entries.csv` keeps working. `.csv` still gives the older single
file (the union of every section's columns with a `section` column), kept for callers that
ask for it by name. Amounts appear twice: `*_minor` integers for machines and exact
major-unit decimal strings (`1234.50`) for people.

The zip is reproducible: its members carry a fixed timestamp and come in section order, so the
same report gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from connector.money import iso_utc, to_major
from connector.report.model import Report
from connector.report.sections import Cell, Linked, Money, Section, report_sections


def cell_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Money):
        return str(to_major(cell.amount_minor, cell.currency))
    if isinstance(cell, Linked):
        return cell.text
    if isinstance(cell, dt.datetime):
        return iso_utc(cell) or ""
    return str(cell)


def section_text(section: Section) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(section.columns)
    writer.writerows([cell_text(c) for c in row] for row in section.rows)
    return buffer.getvalue()


def _write_section(path: Path, section: Section) -> None:
    path.write_bytes(section_text(section).encode("utf-8"))


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build time in the bytes


def _write_zip(path: Path, sections: list[Section]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for section in sections:
            member = zipfile.ZipInfo(f"{section.name}.csv", date_time=_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            archive.writestr(member, section_text(section).encode("utf-8"))


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
    return write_sections(report_sections(report), output)


def write_sections(sections: list[Section], output: Path) -> Path:
    """Any report's sections as CSV: `.zip`, a `.csv` single file, or a directory (see the module doc)."""
    if output.suffix.lower() in (".csv", ".zip"):
        output.parent.mkdir(parents=True, exist_ok=True)
        (_write_single if output.suffix.lower() == ".csv" else _write_zip)(output, sections)
        return output
    output.mkdir(parents=True, exist_ok=True)
    for section in sections:
        _write_section(output / f"{section.name}.csv", section)
    return output
