"""``finance.marketing_costs`` written as the CSV finance hands to the connector.

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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float, str)):
        return str(value)
    return str(value)


def write_costs_csv(scenario: Scenario | dict[str, Any], path: str | Path) -> int:
    """Write ``customer,date,amount,currency,note`` rows; returns the number of rows written."""
    finance = scenario.finance if isinstance(scenario, Scenario) else scenario.get("finance", {})
    rows = finance.get("marketing_costs") if isinstance(finance, dict) else None
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict):
                continue
            writer.writerow([_cell(row.get(column)) for column in COLUMNS])
            count += 1
    return count
