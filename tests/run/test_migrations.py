"""The schema the migrations build is the schema the models declare (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

from connector.store.db import session_factory
from connector.store.models import Base, ChangeClock


def test_migrations_build_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_the_change_clock_starts_at_its_first_tick(engine: Engine) -> None:
    with session_factory(engine)() as s:
        assert s.execute(select(ChangeClock.id, ChangeClock.seq)).all() == [(1, 1)]
