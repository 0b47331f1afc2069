"""Engine, sessions and schema migrations.

SQLite is the embedded default and PostgreSQL the production store; the same code and
the same Alembic migrations serve both. JSON columns go through a serializer that
keeps `Decimal` exact (as a JSON number) instead of failing or turning it into a float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaNotReady(Exception):
    """The database is reachable but its schema is not at the current migration."""


# A decimal that a float cannot carry exactly (more than ~17 significant digits) is written as
# a marked string and the mark removed after encoding, leaving the number's own digits: the
# stdlib encoder writes floats only through float.__repr__, and a stored payload is re-mapped
# from its text (`connector remap`), so a digit lost here would be a different amount there.
_EXACT_MARK = "\x00exact-decimal\x00"
_MARK_TEXT = r"\\u0000exact-decimal\\u0000"  # the mark as the encoder escapes it
_EXACT_MARKED = re.compile(f'"{_MARK_TEXT}' + r"(-?[0-9][0-9.]*(?:[eE][-+]?[0-9]+)?)" + f'{_MARK_TEXT}"')


class _DecimalEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            # An exact JSON number: integral values stay ints, others keep their digits.
            if o == o.to_integral_value():
                return int(o)
            as_float = float(o)  # not money: its repr is checked to give back the same number
            if Decimal(repr(as_float)) == o:
                return as_float
            return f"{_EXACT_MARK}{o}{_EXACT_MARK}"
        if hasattr(o, "isoformat"):
            return o.isoformat()
        return super().default(o)


# One encoder for every call: `json.dumps(cls=...)` builds a new one each time, which cost a third
# of serialising a stored payload. Encoders keep no state between calls, so sharing one is safe.
# Stored JSON is always a tree (parsed payloads, rows built here), so the cycle check (a sixth of
# the encoding) is off: a cycle would still fail, with RecursionError instead of ValueError.
_ENCODER = _DecimalEncoder(separators=(",", ":"), sort_keys=True, check_circular=False)


def json_dumps(value: Any) -> str:
    text_ = _ENCODER.encode(value)
    if "exact-decimal" in text_:
        text_ = _EXACT_MARKED.sub(r"\1", text_)
    return text_


def json_loads(text_: str) -> Any:
    return json.loads(text_, parse_float=Decimal)


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """Create the engine; `schema` pins PostgreSQL's search_path (tests use one per run)."""
    # hide_parameters: a failed statement's message (logged, or stored as a run's error) must not
    # carry the bound values, which are invoices, amounts and customer data.
    kwargs: dict[str, Any] = {"echo": echo, "json_serializer": json_dumps, "json_deserializer": json_loads,
                              "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        if schema:
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint the WAL every 64 MB instead of every 4 MB: a backfill otherwise checkpoints
            # (two fsyncs, hot index pages copied again) after nearly every page it commits.
            cur.execute("PRAGMA wal_autocheckpoint=16384")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_alembic_config(engine), revision)


def head_revision() -> str | None:
    script = ScriptDirectory(str(MIGRATIONS))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_schema_ready(engine: Engine) -> None:
    """Refuse to run on a database that was never migrated or is behind."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaNotReady(
            f"database schema is at {current or 'nothing'}, expected {head}: run `connector db upgrade`"
        )


def is_empty(engine: Engine) -> bool:
    """No tables at all: a database nobody has used yet, safe to create the schema in."""
    return not inspect(engine).get_table_names()


def prepare_schema(engine: Engine, *, migrate: bool) -> str | None:
    """Bring the schema to head on start: create it in an empty database, migrate one that is behind
    only when `migrate` (an operator may want to migrate by hand); else `SchemaNotReady`.

    Why: a fresh container on an empty database should come up without a manual step, while
    migrating a production schema stays a decision (`[database] migrate_on_start`).
    Returns what was done ("created", "migrated") or None when the schema was already at head.
    """
    current = current_revision(engine)
    if current == head_revision():
        return None
    if current is None and is_empty(engine):
        upgrade(engine)
        return "created"
    if migrate:
        upgrade(engine)
        return "migrated"
    ensure_schema_ready(engine)
    return None


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
