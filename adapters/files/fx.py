"""Finance's exchange-rate CSV (`date,currency,rate`: units of the reward currency per one unit of `currency`).

Why a bad row fails the whole file instead of being quarantined like a bad cost row: the latest rate
on or before an entry's date applies, so dropping one row silently moves its dates onto an older rate
and pays the wrong amount, with nothing in the ledger to say so. A rate file is short and kept by
hand; finance expects to be told "fx.csv line 7: rate '1,27' is not a decimal number", fix it, and
run again. The error names the file and line (`FxFileError`; the run exits 2 naming the setting).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path

from connector.money import UnknownCurrency, normalize_currency
from connector.rules.payout import FxRate

COLUMNS = ("date", "currency", "rate")


class FxFileError(ValueError):
    """The rate file cannot be used as it is; the message names the file and line."""


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"rate {text!r} is not a decimal number") from None
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"rate {text!r} is not a positive number")
    return rate


def _parse(raw: dict[str, str], source: str) -> FxRate:
    date_text = (raw.get("date") or "").strip()
    try:
        day = dt.date.fromisoformat(date_text)
    except ValueError:
        raise ValueError(f"bad date {date_text!r} (YYYY-MM-DD)") from None
    try:
        currency = normalize_currency(raw.get("currency"))
    except UnknownCurrency as exc:
        raise ValueError(str(exc)) from None
    return FxRate(day, currency, _rate((raw.get("rate") or "").strip()), source)


def read_fx_rates(path: str | Path) -> list[FxRate]:
    """Every row as a rate, or `FxFileError` naming the first unusable line (OSError if unreadable)."""
    path = Path(path)
    out: list[FxRate] = []
    first_seen: dict[tuple[dt.date, str], int] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise FxFileError(f"{path.name}: missing column(s) {', '.join(missing)}")
        for raw in reader:
            line = reader.line_num
            source = f"{path.name}:{line}"
            try:
                if raw.get(None):  # type: ignore[call-overload,unused-ignore]  # DictReader's restkey: extra cells
                    raise ValueError(f"more cells than the {len(reader.fieldnames or ())} columns (a decimal comma?)")
                rate = _parse({k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}, source)
            except ValueError as exc:
                raise FxFileError(f"{path.name} line {line}: {exc}") from None
            earlier = first_seen.setdefault((rate.date, rate.currency), line)
            if earlier != line:
                second = f"a second {rate.currency.upper()} rate for {rate.date} (first on line {earlier})"
                raise FxFileError(f"{path.name} line {line}: {second}")
            out.append(rate)
    return out
