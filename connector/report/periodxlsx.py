"""A period's roll-forward as an XLSX workbook, the same bytes every time it is rendered.

Layout, as the run report's (`connector.report.xlsx`, whose sheet builders it reuses): a
**Roll-forward** sheet (per currency, then per partner, in the same columns; money as numbers in
major units, the closing balance split by status beside it), a **Movements** sheet (what was
accrued, taken back and paid in the period, with names, Stripe links, the closed month a late
booking corrects and each entry's note: frozen header, autofilter, printed landscape one page
wide with the header repeated) and a **Checks** sheet (the tie-out sentences and the findings).

Why the bytes are fixed: a closed month's workbook must be reproducible. openpyxl stamps the
save time into `docProps/core.xml` and the zip's entries; both are set to the period's end.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.xml.functions import tostring

from connector.report.periodview import (
    Extras,
    checks_section,
    findings_section,
    instant,
    movements_section,
    partners_section,
    roll_forward_section,
    title,
)
from connector.report.xlsx import _stacked, _table_sheet

_CORE = "docProps/core.xml"


def period_xlsx_bytes(body: dict[str, Any], extras: Extras) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    _stacked(workbook, "Roll-forward", [roll_forward_section(body), partners_section(body, extras)])
    _table_sheet(workbook, movements_section(body, extras))
    # the checks' sentences on a sheet of their own: beside the figures they would widen a money column
    _stacked(workbook, "Checks", [checks_section(body), findings_section(body, extras)])
    stamp = instant(body["period"]["end"])
    assert stamp is not None
    stamp = stamp.replace(tzinfo=None)
    workbook.properties.title = title(body)
    return fixed_bytes(workbook, stamp)


def fixed_bytes(workbook: Workbook, stamp: dt.datetime) -> bytes:
    """The workbook saved with `stamp` (naive UTC) as its document dates instead of the clock."""
    props = workbook.properties
    props.creator = "connector"
    props.created = stamp
    buffer = io.BytesIO()
    workbook.save(buffer)
    props.modified = stamp  # save() stamped "now"; the core part is written again below with this
    return _fixed_zip(buffer.getvalue(), {_CORE: tostring(props.to_tree())})


def _fixed_zip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The zip again, with every entry dated 1980-01-01 (the zip epoch) and `replace`d parts."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            target.writestr(fixed, replace.get(info.filename, source.read(info.filename)))
    return out.getvalue()


def write_period_xlsx(body: dict[str, Any], extras: Extras, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(period_xlsx_bytes(body, extras))
    return output
