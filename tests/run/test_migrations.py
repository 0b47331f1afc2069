"""The schema the migrations build is the schema the models declare (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, update

from connector.store.db import session_factory, transaction
from connector.store.models import (
    Base,
    ChangeClock,
    CreditNote,
    Dispute,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    MarketingCost,
    MirrorDeparture,
    Refund,
    Subscription,
    SubscriptionItem,
)
from connector.store.writes import upsert_rows


def test_migrations_build_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_the_change_clock_starts_at_its_first_tick(engine: Engine) -> None:
    with session_factory(engine)() as s:
        assert s.execute(select(ChangeClock.id, ChangeClock.seq)).all() == [(1, 1)]


# (model, a row, the placing column changed, its departure column): every trigger of migration 0016
DEPARTING = [
    (InvoicePayment, {"id": "inpay_1", "invoice_id": "in_1", "payment_intent": "pi_1", "charge": "ch_1"},
     "payment_intent", "payment_intent"),
    (InvoicePayment, {"id": "inpay_1", "invoice_id": "in_1", "payment_intent": "pi_1", "charge": "ch_1"},
     "charge", "charge"),
    (InvoicePayment, {"id": "inpay_1", "invoice_id": "in_1", "payment_intent": "pi_1"}, "invoice_id", "invoice_id"),
    (Refund, {"id": "re_1", "payment_intent": "pi_1", "charge": "ch_1", "currency": "usd"}, "charge", "charge"),
    (Dispute, {"id": "dp_1", "payment_intent": "pi_1", "currency": "usd"}, "payment_intent", "payment_intent"),
    (Invoice, {"id": "in_1", "customer_id": "cus_1", "currency": "usd"}, "customer_id", "customer_id"),
    (InvoiceLine, {"id": "il_1", "invoice_id": "in_1"}, "invoice_id", "invoice_id"),
    (CreditNote, {"id": "cn_1", "invoice_id": "in_1", "currency": "usd", "refund_ids": ["re_1"]},
     "refund_ids", "refund_ids"),
    (CreditNote, {"id": "cn_1", "invoice_id": "in_1", "customer_id": "cus_1", "currency": "usd"},
     "customer_id", "customer_id"),
    (Subscription, {"id": "sub_1", "customer_id": "cus_1"}, "customer_id", "customer_id"),
    (SubscriptionItem, {"id": "si_1", "subscription_id": "sub_1"}, "subscription_id", "subscription_id"),
    (MarketingCost, {"id": "mc_1", "customer_id": "cus_1", "date": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                     "currency": "usd"}, "customer_id", "customer_id"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "row", "column", "departed"), DEPARTING)
def test_a_placing_column_changed_leaves_its_old_value(
    engine: Engine, model: Any, row: dict[str, Any], column: str, departed: str
) -> None:
    """The store's triggers keep what an upsert's changed placing column named before, stamped with the
    row's new tick (incremental compute maps it to the customer the record left); other changes and
    identical re-reads keep nothing."""
    factory = session_factory(engine)
    with transaction(factory) as s:
        upsert_rows(s, model, [row])
        s.execute(update(ChangeClock).values(seq=2))
        upsert_rows(s, model, [row])  # the same: not written
        if hasattr(model, "raw"):
            upsert_rows(s, model, [dict(row, raw={"other": "payload"})])  # no placing column changed
        new = ["re_2"] if departed == "refund_ids" else "other_1"
        upsert_rows(s, model, [dict(row, **{column: new})])
    with factory() as s:
        rows = s.execute(select(MirrorDeparture.changed_seq, getattr(MirrorDeparture, departed))).all()
    assert rows == [(2, row[column])]
