"""`connector quarantine`: what is quarantined or parked, and an operator's way out of a hold.

A quarantined record that feeds other entries holds them `upstream_quarantined` until it resolves
(`connector.rules.invariants`), and a parked record past `[stripe] parked_retry_limit` is no longer
fetched again. When upstream cannot be fixed, or was fixed in a way the connector cannot see, an
operator can `retry` a parked record (its attempts start over at the next sync) or `resolve` a row
(its hold lifts at the next compute; the record itself stays out of the store). An invariant row
resolved by hand comes back at the next compute if the record still breaks the invariant: money
that cannot be right is never booked on an operator's word.

Imports only typer at module level (`connector --help` stays fast); `connector.run.cli` calls
`register(app)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connector.run.options import ConfigOpt as _ConfigOpt

quarantine_app = typer.Typer(help="Quarantined and parked records.", no_args_is_help=True)


def list_rows(
    all_rows: Annotated[bool, typer.Option("--all", help="Resolved rows too.")] = False,
    config: _ConfigOpt = None,
) -> None:
    """One line per unresolved row: id, source, record id, reason, attempts, whom it holds, error."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from connector.run.cli import _exit_codes, _out, _settings
    from connector.run.runner import open_engine
    from connector.store.models import Quarantine

    with _exit_codes():
        engine = open_engine(_settings(config))
        try:
            with Session(engine) as session:
                stmt = select(Quarantine).order_by(Quarantine.id)
                if not all_rows:
                    stmt = stmt.where(Quarantine.resolved_at.is_(None))
                rows = list(session.scalars(stmt))
        finally:
            engine.dispose()
    out = _out()
    for q in rows:
        holds = q.customer_id or q.partner_key or "-"
        state = f"resolved {q.resolved_at:%Y-%m-%d %H:%M}" if q.resolved_at is not None else "open"
        out.print(
            f"{q.id}  {q.source}  {q.source_id or '-'}  {q.reason or '-'}  attempts {q.attempts}  "
            f"holds {holds}  {state}  {q.error[:200]}",
            highlight=False, soft_wrap=True, markup=False,
        )  # fmt: skip
    out.print(f"{len(rows)} row(s)", highlight=False)


def _update(row_id: int, config: Path | None, *, resolve: bool) -> None:
    import datetime as dt

    from sqlalchemy import select, update

    from connector.config import ConfigError
    from connector.run.cli import _exit_codes, _out, _settings
    from connector.run.runner import open_engine
    from connector.store.db import session_factory, transaction
    from connector.store.models import ChangeClock, Quarantine

    with _exit_codes():
        engine = open_engine(_settings(config))
        try:
            with transaction(session_factory(engine)) as session:
                row = session.get(Quarantine, row_id)
                if row is None or row.resolved_at is not None:
                    raise ConfigError(f"no open quarantine row {row_id} (see `connector quarantine list`)")
                tick = select(ChangeClock.seq).where(ChangeClock.id == 1).scalar_subquery()
                values: dict[str, object] = {"changed_seq": tick}  # the next compute re-judges its holds
                if resolve:
                    values.update(resolved_at=dt.datetime.now(dt.UTC), resolved_run_id=None)
                else:
                    values.update(attempts=0)
                session.execute(update(Quarantine).where(Quarantine.id == row_id).values(**values))
        finally:
            engine.dispose()
    what = "resolved: its hold lifts at the next sync" if resolve else "will be fetched again at the next sync"
    _out().print(f"quarantine row {row_id} {what}", highlight=False)


def resolve(
    row_id: Annotated[int, typer.Argument(help="The row's id (`connector quarantine list`).")],
    config: _ConfigOpt = None,
) -> None:
    """Mark a row resolved by hand; the entries it held are released at the next compute."""
    _update(row_id, config, resolve=True)


def retry(
    row_id: Annotated[int, typer.Argument(help="The row's id (`connector quarantine list`).")],
    config: _ConfigOpt = None,
) -> None:
    """Give a parked record its retries back: the next sync fetches it again."""
    _update(row_id, config, resolve=False)


def register(app: typer.Typer) -> None:
    quarantine_app.command("list")(list_rows)
    quarantine_app.command("resolve")(resolve)
    quarantine_app.command("retry")(retry)
    app.add_typer(quarantine_app, name="quarantine")
