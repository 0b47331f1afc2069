"""`connector report --period …`, `--changes`, `--since-run ID`: pick the program, build, render.

The program is the latest run's (a database holds one program's ledger in practice). A closed
month's JSON is the rendering kept when it was closed, byte for byte; its table and CSV are
rendered from the same frozen rows; its XLSX and HTML render the kept JSON itself (figures as
kept; names, notes and links looked up, `connector.report.periodview`). What runs changed comes as
table, JSON, XLSX or HTML (`connector.report.changesfiles`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.report.build import RunNotFound, session_scope
from connector.report.changes import Changes, changes_of, render_changes_json, render_changes_table, runs_after
from connector.report.changesfiles import changes_extras, write_changes_html, write_changes_xlsx
from connector.report.closing import stored_rendering
from connector.report.period import parse_period
from connector.report.periodfmt import PERIOD_FORMATS, render_period_json
from connector.report.periodhtml import write_period_html
from connector.report.periodview import extras_of, parse_body
from connector.report.periodxlsx import write_period_xlsx
from connector.report.readable import Links
from connector.report.rollforward import roll_forward
from connector.store.models import Run


def program_of(session: Session) -> str:
    """The latest run's program (RunNotFound when there is no run, ValueError when it has none)."""
    run = session.scalars(select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()
    if run is None:
        raise RunNotFound("no run in the database yet")
    if run.program is None:
        raise ValueError(f"run {run.id} has no program")
    return run.program


def period_text(engine: Engine | Session, period: str, fmt: str) -> str:
    """The period's roll-forward as `fmt` (table, json or csv; ValueError for another or a bad period)."""
    if fmt not in PERIOD_FORMATS:
        formats = ", ".join((*PERIOD_FORMATS, *PERIOD_FILE_FORMATS))
        raise ValueError(f"a period report comes as {formats}, not {fmt}")
    spec = parse_period(period)
    with session_scope(engine) as session:
        program = program_of(session)
        if fmt == "json" and spec.is_month:
            kept = stored_rendering(session, program, spec.label)
            if kept is not None:
                return kept
        return PERIOD_FORMATS[fmt](roll_forward(session, program, spec))


PERIOD_FILE_FORMATS = {"xlsx": write_period_xlsx, "html": write_period_html}


def period_file(engine: Engine | Session, period: str, fmt: str, output: Path, links: Links | None = None) -> Path:
    """The period's roll-forward written to `output` as xlsx or html: from the JSON kept at close for
    a closed month, from the JSON rendering of the history otherwise (the same body either way)."""
    if fmt not in PERIOD_FILE_FORMATS:
        raise ValueError(f"a period file comes as {', '.join(PERIOD_FILE_FORMATS)}, not {fmt}")
    spec = parse_period(period)
    with session_scope(engine) as session:
        program = program_of(session)
        kept = stored_rendering(session, program, spec.label) if spec.is_month else None
        body = parse_body(kept if kept is not None else render_period_json(roll_forward(session, program, spec)))
        extras = extras_of(session, body, links or Links())
    return PERIOD_FILE_FORMATS[fmt](body, extras, output)


def period_filename(period: str, fmt: str) -> str:
    """`period-2026-11.xlsx`: what the CLI writes under `[report] output_dir` without --output."""
    return f"period-{parse_period(period).label}.{fmt}"


def changes_text(engine: Engine | Session, run_id: str | None, since_run: str | None, fmt: str) -> str:
    """What `run_id` (None: the latest) changed, or every run started after `since_run`."""
    if fmt not in ("table", "json"):
        raise ValueError(f"changes come as table, json, xlsx or html, not {fmt}")
    found = _changes(engine, run_id, since_run)
    return render_changes_json(found) if fmt == "json" else render_changes_table(found)


CHANGES_FILE_FORMATS = {"xlsx": write_changes_xlsx, "html": write_changes_html}


def changes_file(engine: Engine | Session, run_id: str | None, since_run: str | None, fmt: str, output: Path,
                 links: Links | None = None) -> Path:  # fmt: skip
    """What the run(s) changed written to `output` as xlsx or html (the JSON's body, with names and notes)."""
    if fmt not in CHANGES_FILE_FORMATS:
        raise ValueError(f"a changes file comes as {', '.join(CHANGES_FILE_FORMATS)}, not {fmt}")
    found = _changes(engine, run_id, since_run)
    body = parse_body(render_changes_json(found))
    with session_scope(engine) as session:
        extras = changes_extras(session, body, links or Links())
    return CHANGES_FILE_FORMATS[fmt](body, extras, output)


def changes_filename(run_id: str | None, since_run: str | None, fmt: str) -> str:
    """`changes-<run>.html`, or `changes-since-<run>.html`, under `[report] output_dir`."""
    return f"changes-since-{since_run}.{fmt}" if since_run is not None else f"changes-{run_id or 'latest'}.{fmt}"


def _changes(engine: Engine | Session, run_id: str | None, since_run: str | None) -> Changes:
    with session_scope(engine) as session:
        program = program_of(session)
        if since_run is not None:
            runs = runs_after(session, since_run)
        else:
            latest = session.scalars(select(Run.id).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()
            chosen = run_id or latest
            if chosen is None or session.get(Run, chosen) is None:
                raise RunNotFound(f"no run with id {chosen}")
            runs = [chosen]
        return changes_of(session, program, runs)


def write_text(text: str, output: Path | None) -> str:
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    return text
