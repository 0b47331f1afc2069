"""CLI options shared by every command module (typer only, so `connector --help` stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ConfigOpt"]

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="CONNECTOR_CONFIG",
        help="Settings file (TOML). Default: $CONNECTOR_CONFIG, else ./connector.toml if present.",
        show_default=False,
    ),
]
