"""`connector explain ENTRY_KEY | --customer KEY`: the chain behind an entry or a customer.

Kept apart from `connector.report.explain` (SQLAlchemy) so `connector --help` stays typer only;
`connector.run.cli` calls `register(app)`. Reads the store, writes nothing.
"""

from __future__ import annotations

import enum
import sys
from typing import Annotated

import typer

from connector.run.options import ConfigOpt as _ConfigOpt


class ExplainFormat(enum.StrEnum):
    text = "text"
    json = "json"


def explain(
    entry_key: Annotated[str | None, typer.Argument(
        help="An entry key (program|partner|customer|kind|source#n), or a group key for the whole group.",
        show_default=False)] = None,
    customer: Annotated[str | None, typer.Option(
        "--customer", help="A customer instead: PartnerStack customer key, deal key or Stripe customer id.")] = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", help="Output format.")] = ExplainFormat.text,
    config: _ConfigOpt = None,
) -> None:
    """The chain behind an entry or a customer: submissions and decision, invoices and adjustments, each
    entry's arithmetic and status history, and the platform's reward."""
    from sqlalchemy.orm import Session

    from connector.config import ConfigError
    from connector.report.explain import (
        explain_customer,
        explain_entry,
        render_explanation_json,
        render_explanation_text,
    )
    from connector.run.cli import _exit_codes, _settings
    from connector.run.runner import open_engine

    with _exit_codes():
        if (entry_key is None) == (customer is None):
            raise ConfigError("explain needs an ENTRY_KEY or --customer KEY (one of the two)")
        settings = _settings(config)
        engine = open_engine(settings)
        try:
            with Session(engine) as session:
                found = explain_entry(session, entry_key) if entry_key else explain_customer(session, customer or "")
        finally:
            engine.dispose()
    render = render_explanation_json if fmt is ExplainFormat.json else render_explanation_text
    sys.stdout.write(render(found))


def register(app: typer.Typer) -> None:
    app.command()(explain)
