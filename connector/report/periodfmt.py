"""A period's roll-forward as JSON, plain text or CSV: pure functions of the `RollForward`.

Why plain text here and not Rich: a closed month's report must render the same bytes on every
machine and terminal, and a Rich table's layout follows the console's width. Nothing in these
renderings reads the clock, the store or the environment.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from connector.money import format_money, iso_utc
from connector.report.rollforward import CLOSING_STATES, Line, Movement, RollForward

_AMOUNT = re.compile(r"^-?[\d,]+(\.\d+)? [A-Z]{3}$")
_FIGURES = ("opening_minor", "accrued_minor", "taken_back_minor", "paid_minor", "closing_minor")


def period_dict(rf: RollForward) -> dict[str, Any]:
    return {
        "program": rf.program,
        "period": {"label": rf.period.label, "start": iso_utc(rf.period.start), "end": iso_utc(rf.period.end),
                   "closed": rf.closed},  # fmt: skip
        "roll_forward": [_line_dict(line) for line in rf.currencies],
        "partners": [_line_dict(line) for line in rf.partners],
        "movements": [_movement_dict(m) for m in rf.movements],
        "findings": [
            {"code": "reward_declined", "subject_key": m.entry_key, "partner_key": m.partner_key,
             "detail": f"the platform declined this reward ({format_money(m.amount_minor, m.currency)})"}
            for m in rf.declined
        ],  # fmt: skip
        "checks": [_check(line) for line in rf.currencies],
    }


def render_period_json(rf: RollForward) -> str:
    return json.dumps(period_dict(rf), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _line_dict(line: Line) -> dict[str, Any]:
    out: dict[str, Any] = {"currency": line.currency}
    if line.partner_key is not None:
        out["partner_key"] = line.partner_key
    out.update({name: getattr(line, name) for name in _FIGURES})
    out["closing_by_state_minor"] = dict(line.closing_by_state)
    out["entries_booked"] = line.entries
    out["ties"] = line.ties
    return out


def _movement_dict(m: Movement) -> dict[str, Any]:
    return {"on": iso_utc(m.on), "what": m.what, "entry_key": m.entry_key, "partner_key": m.partner_key,
            "customer_key": m.customer_key, "kind": m.kind, "amount_minor": m.amount_minor, "currency": m.currency,
            "corrects": m.corrects, "state_at_end": m.state_at_end}  # fmt: skip


def _check(line: Line) -> dict[str, Any]:
    return {"name": "roll_forward", "currency": line.currency, "holds": line.ties, "statement": equation(line)}


def equation(line: Line) -> str:
    """`opening 0.00 USD + accrued 400.00 USD − taken back 100.00 USD − paid 0.00 USD = closing 300.00 USD`."""
    c = line.currency
    text = (f"opening {format_money(line.opening_minor, c)} + accrued {format_money(line.accrued_minor, c)}"
            f" − taken back {format_money(line.taken_back_minor, c)} − paid {format_money(line.paid_minor, c)}"
            f" = closing {format_money(line.expected_closing_minor, c)}")  # fmt: skip
    if line.ties:
        return text
    return f"{text}, but the entries owed at the end sum to {format_money(line.closing_minor, c)}"


def render_period_table(rf: RollForward) -> str:
    """Plain text, fixed columns: the same bytes wherever it is rendered."""
    p = rf.period
    out = [f"Roll-forward · {rf.program} · {p.label} ({iso_utc(p.start)} to {iso_utc(p.end)}, end excluded)"
           f"{' · closed' if rf.closed else ''}", ""]  # fmt: skip
    head = ["currency", "opening", "accrued", "taken back", "paid", "closing", *CLOSING_STATES, "ties"]
    out += _grid(head, [_cells(line) for line in rf.currencies])
    if rf.partners:
        out += ["", "By partner", ""]
        out += _grid(["partner", *head], [[line.partner_key or "", *_cells(line)] for line in rf.partners])
    out += ["", "Movements", ""]
    if rf.movements:
        rows = [[iso_utc(m.on) or "", m.what, m.entry_key, m.partner_key, m.kind,
                 format_money(m.amount_minor, m.currency), f"corrects {m.corrects}" if m.corrects else "",
                 m.state_at_end] for m in rf.movements]  # fmt: skip
        out += _grid(["on", "what", "entry", "partner", "kind", "amount", "corrects", "at end"], rows)
    else:
        out.append("(nothing booked or paid in this period)")
    if rf.declined:
        out += ["", "Findings", ""]
        out += [f"reward_declined  {m.entry_key}  {format_money(m.amount_minor, m.currency)}: the platform declined "
                "this reward" for m in rf.declined]  # fmt: skip
    out += ["", "Checks", ""]
    out += [f"[{'ok' if line.ties else 'FAIL'}] roll_forward {line.currency}: {equation(line)}"
            for line in rf.currencies]  # fmt: skip
    if not rf.currencies:
        out.append("(no entries booked by the end of this period)")
    return "\n".join(out) + "\n"


def _cells(line: Line) -> list[str]:
    c = line.currency
    money = [format_money(getattr(line, name), c) for name in _FIGURES]
    states = [format_money(line.closing_by_state[s], c) for s in CLOSING_STATES]
    return [c, *money, *states, "yes" if line.ties else "NO"]


def _grid(head: list[str], rows: list[list[str]]) -> list[str]:
    """Fixed-width columns; money (a column whose every cell is an amount) to the right, text to the left."""
    columns = list(zip(head, *rows, strict=True))
    widths = [max(len(str(cell)) for cell in column) for column in columns]
    right = [bool(rows) and all(_AMOUNT.match(cell) for cell in column[1:]) for column in columns]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(w) if r else cell.ljust(w)
                         for cell, w, r in zip(cells, widths, right, strict=True)).rstrip()  # fmt: skip

    return [line(head), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def render_period_csv(rf: RollForward) -> str:
    """One row per roll-forward line (currencies first, then partners), minor units."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", "currency", "partner_key", *_FIGURES,
                     *(f"closing_{s}_minor" for s in CLOSING_STATES), "entries_booked", "ties"])  # fmt: skip
    for line in (*rf.currencies, *rf.partners):
        writer.writerow([rf.period.label, line.currency, line.partner_key or "",
                         *(getattr(line, name) for name in _FIGURES),
                         *(line.closing_by_state[s] for s in CLOSING_STATES), line.entries,
                         "yes" if line.ties else "no"])  # fmt: skip
    return buffer.getvalue()


PERIOD_FORMATS = {"json": render_period_json, "table": render_period_table, "csv": render_period_csv}
