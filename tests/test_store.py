"""The store's upsert and cursor semantics on the configured database."""

from sqlalchemy import Engine, func, select

from connector.store.db import current_revision, head_revision, session_factory, transaction
from connector.store.models import Invoice, Product
from connector.store.writes import load_cursor, save_cursor, upsert_rows
from tests.conftest import on_postgres


def test_schema_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert engine.dialect.name == ("postgresql" if on_postgres() else "sqlite")


def test_upsert_by_source_key_never_duplicates(engine: Engine) -> None:
    factory = session_factory(engine)
    with transaction(factory) as s:
        upsert_rows(s, Product, [{"id": "prod_1", "name": "a", "unit_cost": 1200, "raw": {}}])
    with transaction(factory) as s:
        upsert_rows(s, Product, [{"id": "prod_1", "name": "b", "unit_cost": 1300, "raw": {}}])
        upsert_rows(s, Product, [{"id": "prod_2", "name": "c", "unit_cost": None, "raw": {}}])
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 2
        p = s.get(Product, "prod_1")
        assert p is not None and p.name == "b" and p.unit_cost == 1300


def test_big_money_survives_round_trip(engine: Engine) -> None:
    factory = session_factory(engine)
    big = 9_007_199_254_740_993  # above 2**53: a float would corrupt it
    with transaction(factory) as s:
        upsert_rows(s, Invoice, [{"id": "in_1", "currency": "usd", "amount_paid": big, "raw": {}}])
    with factory() as s:
        inv = s.get(Invoice, "in_1")
        assert inv is not None and inv.amount_paid == big


def test_cursor_rolls_back_with_its_page(engine: Engine) -> None:
    factory = session_factory(engine)
    try:
        with transaction(factory) as s:
            upsert_rows(s, Product, [{"id": "prod_9", "name": "x", "raw": {}}])
            save_cursor(s, "stripe.products", {"after": "prod_9"})
            raise RuntimeError("crash between page and commit")
    except RuntimeError:
        pass
    with factory() as s:
        assert load_cursor(s, "stripe.products") == {}
        assert s.get(Product, "prod_9") is None
