"""`connector whatif`: the ledger under another program file or mappings, computed and rolled back.

Kept apart from `connector.run.whatif` (which loads SQLAlchemy and the rules) so `connector --help`
stays typer only; `connector.run.cli` calls `register(app)`.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from connector.run.options import ConfigOpt as _ConfigOpt


class WhatIfFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"


def whatif(
    program: Annotated[Path | None, typer.Option("--program", help="The other program file (TOML).")] = None,
    mappings: Annotated[Path | None, typer.Option("--mappings", help="Another mappings folder.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="The compute's clock (ISO-8601). Default: the last compute's as-of time.")] = None,
    fmt: Annotated[WhatIfFormat, typer.Option("--format", help="Output format.")] = WhatIfFormat.table,
    output: Annotated[Path | None, typer.Option("--output", help="Write here (needed for csv and xlsx).")] = None,
    config: _ConfigOpt = None,
) -> None:
    """What a recompute under another program file (or mappings) would book, take back and hold.

    Computed from the stored world in a transaction that is rolled back: nothing is written."""
    from connector.config import ConfigError
    from connector.report.whatif import render_whatif
    from connector.run.cli import _exit_codes, _out, _settings, parse_time
    from connector.run.lock import run_lock
    from connector.run.runner import open_engine
    from connector.run.whatif import what_if

    with _exit_codes():
        if program is None and mappings is None:
            raise ConfigError("whatif needs --program FILE and/or --mappings DIR")
        if mappings is not None and not mappings.is_dir():
            raise ConfigError(f"--mappings: no such folder {mappings}")
        settings = _settings(config)
        when = parse_time(as_of, "--as-of")
        engine = open_engine(settings)
        try:
            with run_lock(engine, settings.lock.ttl_seconds):
                result = what_if(settings, engine, program_file=program, mappings_dir=mappings, as_of=when)
        finally:
            engine.dispose()
        try:
            text = render_whatif(result, fmt.value, output)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if output is not None:
        _out().print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def register(app: typer.Typer) -> None:
    app.command()(whatif)
