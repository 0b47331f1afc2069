"""Two copies of one id with different content in one page (issue 15): neither is stored, both are
quarantined `duplicate_id_conflict`, the invoice's customer is held; a later run that reads the id
once, whole, stores it and resolves the rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.config import Settings
from connector.mapping import load_mappings
from connector.pull.pages import RecordWriter, transaction
from connector.pull.stats import StreamStats
from connector.rules.reads import open_holds
from connector.store.models import Invoice, Quarantine

from .conftest import MakeCtx


def _invoice(amount_paid: int) -> dict[str, Any]:
    return {
        "id": "in_dup", "object": "invoice", "customer": "cus_A", "currency": "usd", "status": "paid",
        "created": 1775001600, "amount_due": amount_paid, "amount_paid": amount_paid, "amount_remaining": 0,
        "total": amount_paid, "subtotal": amount_paid, "status_transitions": {"paid_at": 1775088000},
        "lines": {"object": "list", "data": [], "has_more": False},
    }  # fmt: skip


def _write(make_ctx: MakeCtx, payloads: list[dict[str, Any]]) -> StreamStats:
    ctx = make_ctx(Settings())
    writer, stats = RecordWriter(ctx, load_mappings(ctx.settings)), StreamStats()
    with transaction(ctx) as session:
        writer.write(session, "stripe.invoices", payloads, stats)
    return stats


def test_a_second_copy_ten_times_larger_is_quarantined_not_stored(engine: Engine, make_ctx: MakeCtx) -> None:
    stats = _write(make_ctx, [_invoice(108000), _invoice(1080000), _invoice(108000)])
    assert (stats.pulled, stats.quarantined) == (0, 3)
    with Session(engine) as s:
        assert s.get(Invoice, "in_dup") is None
        rows = [(q.source_id, q.reason, q.customer_id, q.resolved_at) for q in s.scalars(select(Quarantine))]
        assert rows == [("in_dup", "duplicate_id_conflict", "cus_A", None)] * 3
        assert open_holds(s).billing_ids == {"cus_A"}

    _write(make_ctx, [_invoice(108000), _invoice(108000)])  # a later run: one content, stored once
    with Session(engine) as s:
        invoice = s.get(Invoice, "in_dup")
        assert invoice is not None and invoice.amount_paid == 108000
        assert all(q.resolved_at is not None for q in s.scalars(select(Quarantine)))
        assert open_holds(s).billing_ids == set()
