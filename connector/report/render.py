"""Pick a renderer by format name and put its output where the caller asked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.report.build import build_report
from connector.report.csvfmt import write_csv
from connector.report.html import write_html
from connector.report.jsonfmt import render_json
from connector.report.leaderboard import (
    Quarter,
    latest_quarter_with_referrals,
    render_leaderboard_json,
    render_leaderboard_table,
)
from connector.report.leaderboard import leaderboard as compute_leaderboard
from connector.report.model import Report
from connector.report.readable import Links
from connector.report.statement import partner_statement
from connector.report.table import render_table, summary_of
from connector.report.xlsx import write_xlsx

FORMATS = ("table", "json", "csv", "xlsx", "html")
TEXT_FORMATS = ("table", "json")
EXTENSIONS = {"table": "txt", "json": "json", "csv": "zip", "xlsx": "xlsx", "html": "html"}


def render_report(report: Report, fmt: str, output: Path | None) -> str:
    """Text formats return their text (and write it to `output` if given); file formats
    write `output` and return its path (a file format without `output` is a ValueError)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt in TEXT_FORMATS:
        text = render_json(report) if fmt == "json" else render_table(report)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        return text
    if output is None:
        raise ValueError(f"the {fmt} report needs an output path")
    writer = {"csv": write_csv, "xlsx": write_xlsx, "html": write_html}[fmt]
    return str(writer(report, Path(output)))


def write_report(
    engine: Engine | Session,
    run_id: str | None,
    fmt: str,
    output: Path | None,
    *,
    partner: str | None = None,
    leaderboard: bool = False,
    quarter: str | None = None,
    links: Links | None = None,
) -> str:
    """Build the report of `run_id` (None/"latest": the latest run) and render it as `fmt`.

    `partner` narrows it to that partner's statement (every format); `leaderboard`
    renders the run's program's quarterly leaderboard instead (table or json;
    `quarter` like "2026-Q2", default the latest quarter with referrals up to the run's as-of time). `links` says
    where keys open (`links_of(settings)`); None: the defaults.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    if leaderboard:
        return _write_leaderboard(engine, run_id, fmt, output, quarter)
    report = partner_statement(engine, partner, run_id) if partner is not None else build_report(engine, run_id)
    if links is not None:
        report.links = links
    return render_report(report, fmt, output)


def _write_leaderboard(
    engine: Engine | Session, run_id: str | None, fmt: str, output: Path | None, quarter: str | None
) -> str:
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"the leaderboard comes as table or json, not {fmt}")
    run = build_report(engine, run_id).run
    if run.program is None:
        raise ValueError(f"run {run.id} has no program to rank partners of")
    until = run.as_of or run.started_at
    latest = latest_quarter_with_referrals(engine, run.program, until)
    period = Quarter.parse(quarter) if quarter else (latest or Quarter.containing(until))
    rows = compute_leaderboard(engine, run.program, str(period))
    message = _leaderboard_message(rows, period, latest, chosen=quarter is None)
    if fmt == "json":
        text = render_leaderboard_json(rows, run.program, str(period), message)
    else:
        text = render_leaderboard_table(rows, f"Leaderboard · {run.program} · {period}", message=message)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    return text


def _leaderboard_message(
    rows: Sequence[object], period: Quarter, latest: Quarter | None, *, chosen: bool
) -> str | None:
    """What the reader must be told: which quarter was picked for them, or why the board is empty."""
    if not rows:
        hint = f"; the latest quarter with referrals is {latest}" if latest and latest != period else ""
        return f"no successful referral was signed in {period}{hint}"
    return f"{period} is the latest quarter with referrals (--quarter picks another)" if chosen else None


def default_filename(run_id: str, fmt: str) -> str:
    """`report-<run>.<ext>`: what callers put under `settings.report.output_dir`."""
    return f"report-{run_id}.{EXTENSIONS[fmt]}"


def summary_table(engine: Engine | Session, run_id: str | None = None) -> Table:
    """The short summary the CLI and the demo print."""
    return summary_of(build_report(engine, run_id))
