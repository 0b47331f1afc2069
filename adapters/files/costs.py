"""Finance's marketing-cost CSV (`customer,date,amount,currency,note`; amount in minor units).

Each row becomes a record keyed by a digest of its content and its occurrence number,
so re-reading the file upserts instead of duplicating, and two identical rows stay two.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.money import UnknownCurrency, normalize_currency

COLUMNS = ("customer", "date", "amount", "currency", "note")
_INT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class CostRow:
    line: int
    row: dict[str, Any] | None  # the canonical record when valid
    error: str | None
    source_id: str  # identifies the row in quarantine: "costs.csv:<line>"
    original: dict[str, str]


def _parse(raw: dict[str, str]) -> dict[str, Any]:
    for name, value in raw.items():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{name} is not valid UTF-8") from None
    customer = (raw.get("customer") or "").strip()
    if not customer:
        raise ValueError("customer is empty")
    try:
        day = dt.date.fromisoformat((raw.get("date") or "").strip())
    except ValueError:
        raise ValueError(f"bad date {raw.get('date')!r}") from None
    amount_text = (raw.get("amount") or "").strip()
    if not _INT.match(amount_text):
        raise ValueError(f"amount {amount_text!r} is not an integer in minor units")
    amount = int(amount_text)
    if amount < 0:
        raise ValueError(f"negative amount {amount}")
    try:
        currency = normalize_currency(raw.get("currency"))
    except UnknownCurrency as exc:
        raise ValueError(str(exc)) from None
    note = (raw.get("note") or "").strip() or None
    return {
        "customer_id": customer,
        "date": dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC),
        "amount": amount,
        "currency": currency,
        "note": note,
    }


def read_marketing_costs(path: str | Path) -> list[CostRow]:
    """Every data row, valid or not; raises OSError/ValueError if the file itself is unusable."""
    path = Path(path)
    out: list[CostRow] = []
    seen: dict[str, int] = {}
    # surrogateescape keeps a bad byte as a marker, so one bad row is quarantined, not the file.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS[:4] if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
        for raw in reader:
            line = reader.line_num
            original = {k: (v if isinstance(v, str) else "") for k, v in raw.items() if k is not None}
            source_id = f"{path.name}:{line}"
            try:
                row = _parse(original)
            except ValueError as exc:
                out.append(CostRow(line, None, str(exc), source_id, original))
                continue
            content = "\x1f".join(str(row[k]) for k in ("customer_id", "date", "amount", "currency", "note"))
            n = seen.get(content, 0)
            seen[content] = n + 1
            row["id"] = hashlib.sha256(f"{content}\x1e{n}".encode()).hexdigest()
            out.append(CostRow(line, row, None, source_id, original))
    return out
