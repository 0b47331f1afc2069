"""`store_snapshot(engine)`: every canonical table's rows, sorted, for comparing two stores.

Sync bookkeeping (cursors, runs, stats, quarantine, locks) and the ledger are left out: two
runs that pulled the same data must compare equal however their reads were split.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from connector.store import models
from connector.store.db import json_dumps

CANONICAL_TABLES = (
    "ps_groups",
    "ps_partners",
    "ps_leads",
    "ps_deals",
    "ps_customers",
    "ps_rewards",
    "ps_transactions",
    "st_products",
    "st_prices",
    "st_customers",
    "st_subscriptions",
    "st_subscription_items",
    "st_invoices",
    "st_invoice_lines",
    "st_credit_notes",
    "st_refunds",
    "st_disputes",
    "st_invoice_payments",
    "fin_marketing_costs",
)


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.loads(json_dumps(value))  # key order and Decimal spelling made canonical
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def store_snapshot(engine: Engine, tables: tuple[str, ...] = CANONICAL_TABLES) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name in tables:
            table = models.Base.metadata.tables[name]
            # `changed_seq` is the store's change clock (when a row last changed), not upstream data.
            rows = [
                {k: _plain(v) for k, v in row._mapping.items() if k != "changed_seq"}
                for row in conn.execute(select(table))
            ]
            pk = [c.name for c in table.primary_key.columns]
            rows.sort(key=lambda r: tuple(str(r[k]) for k in pk))
            out[name] = rows
    return out
