"""A page's upsert on PostgreSQL is one `unnest` statement (`connector.store.unnest`); it must store
exactly what the row-by-row form stores, with the same change stamps and the same refusals."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, String, cast, select, update
from sqlalchemy.exc import DBAPIError

from connector.store.db import json_dumps, session_factory, transaction
from connector.store.models import ChangeClock, Invoice, SyncCursor
from connector.store.writes import _unnest_fits, upsert_rows
from tests.conftest import on_postgres

T0 = dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC)


def _invoice(n: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"in_{n}", "customer_id": f"cus_{n}", "subscription_id": None, "currency": "usd",
        "status": "paid", "created": T0, "due_date": None, "paid_at": T0 + dt.timedelta(days=n),
        "amount_due": 9_007_199_254_740_993, "amount_paid": n, "amount_remaining": 0, "subtotal": None,
        "total": -5, "tax": 0,
        "raw": {"id": f"in_{n}", "note": 'quote " backslash \\ tab \t é ☃ {a,b} NULL',
                "rate": Decimal("0.125"), "lines": [{"amount": 100}], "none": None},
    }
    row.update(over)
    return row


def _stored(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with session_factory(engine)() as s:
        raw_text = cast(Invoice.raw, String).label("raw_text")
        rows = s.execute(select(Invoice, raw_text).order_by(Invoice.id)).all()
        return {
            inv.id: (inv.customer_id, inv.subscription_id, inv.currency, inv.status, inv.created, inv.due_date,
                     inv.paid_at, inv.amount_due, inv.amount_paid, inv.amount_remaining, inv.subtotal, inv.total,
                     inv.tax, inv.raw, text_, inv.changed_seq)
            for inv, text_ in rows
        }


def _tick(engine: Engine, seq: int) -> None:
    with transaction(session_factory(engine)) as s:
        if s.get(ChangeClock, 1) is None:
            s.add(ChangeClock(id=1, seq=seq))
        else:
            s.execute(update(ChangeClock).where(ChangeClock.id == 1).values(seq=seq))


def test_a_page_stores_what_single_rows_store_and_stamps_only_changes(engine: Engine) -> None:
    factory = session_factory(engine)
    page = [_invoice(n) for n in range(1, 4)]
    assert _unnest_fits(Invoice.__table__, tuple(sorted(page[0])))  # type: ignore[arg-type]
    _tick(engine, 7)
    with transaction(factory) as s:
        upsert_rows(s, Invoice, page)  # three rows: the one-statement form on PostgreSQL
    with transaction(factory) as s:
        upsert_rows(s, Invoice, [_invoice(9)])  # one row: the row-by-row form
    stored = _stored(engine)
    assert set(stored) == {"in_1", "in_2", "in_3", "in_9"}
    for n in (1, 2, 3, 9):
        got = stored[f"in_{n}"]
        want = _invoice(n)
        assert got[:13] == (want["customer_id"], None, "usd", "paid", T0, None, T0 + dt.timedelta(days=n),
                            9_007_199_254_740_993, n, 0, None, -5, 0)
        assert got[13] == {**want["raw"], "rate": Decimal("0.125")}
        if on_postgres():  # the stored JSON text is the serializer's, byte for byte (the change check compares it)
            assert got[14] == json_dumps(want["raw"])
        assert got[15] == 7
    _tick(engine, 8)
    again = [_invoice(1), _invoice(2, amount_paid=222), _invoice(3, raw={**_invoice(3)["raw"], "x": 1})]
    with transaction(factory) as s:
        upsert_rows(s, Invoice, again)
    stored = _stored(engine)
    assert [stored[f"in_{n}"][15] for n in (1, 2, 3, 9)] == [7, 8, 8, 7]
    assert stored["in_2"][8] == 222 and stored["in_3"][13]["x"] == 1


def test_rows_missing_a_defaulted_column_take_the_row_form_and_get_the_default(engine: Engine) -> None:
    rows = [{k: v for k, v in _invoice(n).items() if k not in ("tax", "raw")} for n in (1, 2)]
    assert not _unnest_fits(Invoice.__table__, tuple(sorted(rows[0])))  # type: ignore[arg-type]
    with transaction(session_factory(engine)) as s:
        upsert_rows(s, Invoice, rows)
    stored = _stored(engine)
    assert [(stored[k][12], stored[k][13]) for k in ("in_1", "in_2")] == [(0, {}), (0, {})]


def test_untracked_table_page_and_json_none(engine: Engine) -> None:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [{"stream": "a", "state": {"after": "x"}, "updated_at": now},
            {"stream": "b", "state": {"k": [1, "2"]}, "updated_at": now}]
    with transaction(session_factory(engine)) as s:
        upsert_rows(s, SyncCursor, rows)
        upsert_rows(s, SyncCursor, [{**rows[0], "state": {"after": "y"}}, rows[1]])
    with session_factory(engine)() as s:
        got = {c.stream: (c.state, c.updated_at) for c in s.scalars(select(SyncCursor))}
    assert got == {"a": ({"after": "y"}, now), "b": ({"k": [1, "2"]}, now)}


@pytest.mark.skipif(not on_postgres(), reason="SQLite does not enforce VARCHAR lengths")
def test_a_value_too_long_is_refused_not_cut(engine: Engine) -> None:
    page = [_invoice(1), _invoice(2, customer_id="c" * 256)]
    with pytest.raises(DBAPIError), transaction(session_factory(engine)) as s:
        upsert_rows(s, Invoice, page)
