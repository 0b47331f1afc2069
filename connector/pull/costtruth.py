"""Finance's cost file is the truth at each run (programs.md "Changes after the fact").

A cost row is identified by (customer, date, note) and its currency, not by its amount: a row
whose amount changes keeps the id it was first stored under, so the ledger books the difference
on the same group; a stored row missing from the file is kept with amount 0, so the ledger takes
its clawback back (a deleted row would be invisible to the incremental change clock).

A row's id is still first assigned from its content (`adapters.files.costs`), so rows stored
before this rule keep their ids and their ledger groups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

Identity = tuple[str, dt.datetime, str | None, str]  # customer, date, note, currency


def identity(row: dict[str, Any]) -> Identity:
    return (row["customer_id"], row["date"], row["note"], row["currency"])


def reconcile_costs(
    read: list[dict[str, Any]], stored: list[dict[str, Any]], *, removals: bool = True
) -> list[dict[str, Any]]:
    """The rows to upsert: the file's rows, each under the id of the stored row it continues, and (with
    `removals`) every stored row the file no longer holds, at amount 0.

    Rows of one identity pair up in order: first a file row with a stored row of the same id (unchanged),
    then the rest in file order with the stored rest in id order.
    """
    stored_of: dict[Identity, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(stored, key=lambda r: r["id"]):
        stored_of[identity(row)].append(row)
    out: list[dict[str, Any]] = []
    for key, rows in _by_identity(read).items():
        candidates = stored_of.pop(key, [])
        ids = {r["id"] for r in candidates}
        same = [r for r in rows if r["id"] in ids]
        taken = {r["id"] for r in same}
        rest = [r for r in candidates if r["id"] not in taken]
        out.extend(same)
        for row in (r for r in rows if r["id"] not in ids):
            out.append(dict(row, id=rest.pop(0)["id"]) if rest else row)
        stored_of[key] = rest  # stored rows of this identity the file holds fewer of
    if removals:
        out.extend(dict(row, amount=0) for rows in stored_of.values() for row in rows if row["amount"] != 0)
    return out


def _by_identity(rows: list[dict[str, Any]]) -> dict[Identity, list[dict[str, Any]]]:
    out: dict[Identity, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[identity(row)].append(row)
    return out
