"""``finance.marketing_costs`` and ``finance.fx_rates`` written as the CSVs finance hands to the connector.

Why: the connector reads marketing costs from a file named in its config, not from an API; the
sandbox writes that file from the scenario so a demo or test needs nothing else.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from .scenario import Scenario

COLUMNS = ("customer", "date", "amount", "currency", "note")
FX_COLUMNS = ("date", "currency", "rate")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float, str)):
        return str(value)
    return str(value)


def _write_finance_csv(
    scenario: Scenario | dict[str, Any], path: str | Path, key: str, columns: tuple[str, ...]
) -> int:
    """Write the scenario's ``finance.<key>`` rows with these columns; returns the number of rows written."""
    finance = scenario.finance if isinstance(scenario, Scenario) else scenario.get("finance", {})
    rows = finance.get(key) if isinstance(finance, dict) else None
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict):
                continue
            writer.writerow([_cell(row.get(column)) for column in columns])
            count += 1
    return count


def write_costs_csv(scenario: Scenario | dict[str, Any], path: str | Path) -> int:
    """Write ``customer,date,amount,currency,note`` rows; returns the number of rows written."""
    return _write_finance_csv(scenario, path, "marketing_costs", COLUMNS)


def write_fx_csv(scenario: Scenario | dict[str, Any], path: str | Path) -> int:
    """Write ``finance.fx_rates`` as finance's rate file (``date,currency,rate``); a rate is best written
    as a string in the scenario (``"1.27"``), so it reaches the file exactly as finance typed it."""
    return _write_finance_csv(scenario, path, "fx_rates", FX_COLUMNS)
