"""The `connector` command line.

Exit codes are part of the interface: 0 done, 1 the run failed, 2 bad usage or config,
3 another run holds the lock. Expected errors print one line on stderr, never a traceback.
`--config` defaults to `$CONNECTOR_CONFIG`, else `./connector.toml` if present, else the
built-in defaults (the container sets the variable instead of passing a flag).

Everything past typer is imported inside the commands: `connector --help` and `--version`
must answer at once, not after loading pydantic, SQLAlchemy, Alembic and the sandbox.
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from connector.run.options import ConfigOpt

if TYPE_CHECKING:
    from rich.console import Console

    from connector.config import Settings
    from connector.context import ProgressHook
    from connector.run.runner import RunOutcome

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("referral-connector")
        except PackageNotFoundError:  # a source tree that was never installed: its pyproject.toml
            import tomllib

            pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
            number = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        sys.stdout.write(f"connector {number}\n")
        raise typer.Exit(0)


app = typer.Typer(
    name="connector",
    help="Pays referral partners exactly what their program promises: PartnerStack + Stripe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")



@app.callback()
def _main(
    _version_flag: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit."
    )] = False,
) -> None:
    """Pays referral partners exactly what their program promises: PartnerStack + Stripe."""


@cache
def _console(err: bool) -> Console:
    from rich.console import Console

    return Console(stderr=err)


def _out() -> Console:
    return _console(False)


def _err() -> Console:
    return _console(True)

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="The run's clock, ISO-8601 date or date-time (e.g. 2026-06-30T00:00:00Z)."),
]


class ReportFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"


# ---------------------------------------------------------------- helpers


def _fail(code: int, message: str) -> NoReturn:
    _err().print(f"connector: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Turn the expected failures into their exit code and one line on stderr."""
    from connector.config import ConfigError
    from connector.run.fence import LeaseLost
    from connector.run.lock import LockHeld
    from connector.run.runner import DatabaseUnavailable, RunFailed
    from connector.store.db import SchemaNotReady

    try:
        yield
    except ConfigError as exc:
        _fail(EXIT_USAGE, str(exc))
    except SchemaNotReady as exc:
        _fail(EXIT_USAGE, str(exc))
    except LockHeld as exc:
        _fail(EXIT_LOCKED, str(exc))
    except (RunFailed, DatabaseUnavailable, LeaseLost) as exc:  # LeaseLost: lost before a stage began
        _fail(EXIT_RUN_FAILED, str(exc))
    except LookupError as exc:  # e.g. the report's RunNotFound: a bad --run
        _fail(EXIT_USAGE, str(exc).strip("'\""))


def parse_time(value: str | None, option: str) -> dt.datetime | None:
    """ISO-8601 date or date-time, `Z` allowed; a time without zone is UTC."""
    from connector.config import ConfigError

    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"bad {option} {value!r}: expected an ISO-8601 date or date-time") from None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _settings(config: Path | None) -> Settings:
    from connector.config import load_settings
    from connector.run.logs import setup_logging

    settings = load_settings(config)
    setup_logging(settings.log.level, settings.log.format)
    return settings


@contextmanager
def _progress() -> Iterator[ProgressHook | None]:
    """Rich bars on an interactive stderr; nothing otherwise (the JSON logs tell the story)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=_err(), transient=True,
    ) as bars:
        tasks: dict[str, Any] = {}

        def hook(stream: str, done: int, total: int | None) -> None:
            if stream not in tasks:
                tasks[stream] = bars.add_task(stream, total=total)
            bars.update(tasks[stream], completed=done, total=total)

        yield hook


def _run(settings: Settings, **kwargs: Any) -> RunOutcome:
    from connector.run.runner import run_once

    with _progress() as hook:
        return run_once(settings, progress=hook, **kwargs)


def _print_outcome(outcome: RunOutcome) -> None:
    pushed = (outcome.push.pushed + outcome.push.recovered) if outcome.push else 0
    rejected = outcome.push.failed if outcome.push else 0
    _out().print(
        f"run {outcome.run_id} {outcome.status}: pulled {sum(outcome.pulled.values())} records, "
        f"{outcome.entries_appended} ledger entries appended, {pushed} rewards pushed"
        + (f", {rejected} rejected (see the report)" if rejected else ""),
        highlight=False,
    )
    for note in outcome.notes:
        _out().print(f"  note: {note}", markup=False, highlight=False)


def _summary(settings: Settings, run_id: str) -> None:
    from connector.report import summary_table
    from connector.run.runner import open_engine

    engine = open_engine(settings)
    try:
        _out().print(summary_table(engine, run_id))
    finally:
        engine.dispose()


# ---------------------------------------------------------------- commands


@app.command()
def sync(
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Recompute every customer's ledger, not only what changed (e.g. after editing the store)."
    )] = False,
) -> None:
    """One incremental run: pull, reconcile, compute, push, report."""
    with _exit_codes():
        settings = _settings(config)
        outcome = _run(settings, kind="sync", as_of=parse_time(as_of, "--as-of"), full=full)
        _summary(settings, outcome.run_id)
        _print_outcome(outcome)


@app.command()
def backfill(
    since: Annotated[str, typer.Option("--since", help="Start of the window (inclusive), ISO-8601.")],
    until: Annotated[str | None, typer.Option("--until", help="End of the window (exclusive); default now.")] = None,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Re-pull [since, until) without moving the incremental cursors; push only what is new."""
    with _exit_codes():
        settings = _settings(config)
        outcome = _run(
            settings,
            kind="backfill",
            as_of=parse_time(as_of, "--as-of"),
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
        )
        _summary(settings, outcome.run_id)
        _print_outcome(outcome)


@app.command()
def report(
    config: ConfigOpt = None,
    run: Annotated[str, typer.Option("--run", help="Run id, or 'latest'.")] = "latest",
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write here. Default: stdout for table/json, [report] output_dir otherwise."),
    ] = None,
    partner: Annotated[str | None, typer.Option("--partner", help="One partner's statement (part_… key).")] = None,
    leaderboard: Annotated[bool, typer.Option("--leaderboard", help="The quarterly leaderboard instead.")] = False,
    quarter: Annotated[str | None, typer.Option("--quarter", help="Leaderboard quarter, e.g. 2026-Q2.")] = None,
    tax_year: Annotated[int | None, typer.Option(
        "--tax-year", help="The year-end 1099-NEC list of US partners paid in that year instead.")] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="Roll-forward of a month (2026-11), quarter (2026Q4) or range (A..B)."),
    ] = None,
    since_run: Annotated[
        str | None, typer.Option("--since-run", help="What every run after this one changed.")
    ] = None,
    changes: Annotated[bool, typer.Option("--changes", help="What the run (--run) changed.")] = False,
) -> None:
    """The reconciliation report of a run (or a partner's statement, the leaderboard, the 1099-NEC list,
    a period's roll-forward, or what a run changed)."""
    if tax_year is not None:
        from connector.run.tax_cli import nec_report

        return nec_report(config, tax_year, fmt.value, output)
    from connector import report as reports
    from connector.config import ConfigError
    from connector.report.readable import links_of
    from connector.run.runner import open_engine

    with _exit_codes():
        settings = _settings(config)
        engine = open_engine(settings)
        try:
            run_id = None if run == "latest" else run
            if fmt.value in ("xlsx", "html") and (period is None) != (since_run is None and not changes):
                output = _period_file(engine, run_id, period, since_run, fmt.value, output, settings)
                _out().print(f"wrote {output}", highlight=False, soft_wrap=True)
                return
            if period is not None or since_run is not None or changes:
                text = _period_or_changes(engine, run_id, period, since_run, changes, fmt.value, output)
                if output is not None:
                    _out().print(f"wrote {output}", highlight=False)
                else:
                    sys.stdout.write(text)
                return
            if output is None and fmt.value not in ("table", "json"):
                resolved = reports.build_report(engine, run_id).run.id
                output = Path(settings.report.output_dir) / reports.default_filename(resolved, fmt.value)
            try:
                text = reports.write_report(
                    engine, run_id, fmt.value, output, partner=partner, leaderboard=leaderboard, quarter=quarter,
                    links=links_of(settings.report),
                )
            except ValueError as exc:  # an option combination the report cannot render
                raise ConfigError(str(exc)) from None
        finally:
            engine.dispose()
        if output is not None:
            _out().print(f"wrote {output}", highlight=False)
        elif text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _period_or_changes(
    engine: Any, run_id: str | None, period: str | None, since_run: str | None, changes: bool, fmt: str,
    output: Path | None,
) -> str:
    from connector.config import ConfigError
    from connector.report.periodic import changes_text, period_text, write_text

    try:
        if period is not None:
            if since_run is not None or changes:
                raise ValueError("--period shows a period; --changes and --since-run show runs: pick one")
            return write_text(period_text(engine, period, fmt), output)
        return write_text(changes_text(engine, run_id, since_run, fmt), output)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _period_file(
    engine: Any, run_id: str | None, period: str | None, since_run: str | None, fmt: str, output: Path | None,
    settings: Settings,
) -> Path:
    """A period's (or what runs changed) XLSX or HTML, to `output` or `[report] output_dir`/
    period-<label>.<ext> (changes-<run>.<ext>)."""
    from connector.config import ConfigError
    from connector.report import periodic
    from connector.report.readable import links_of

    links, folder = links_of(settings.report), Path(settings.report.output_dir)
    try:
        if period is not None:
            target = output or folder / periodic.period_filename(period, fmt)
            return periodic.period_file(engine, period, fmt, target, links)
        target = output or folder / periodic.changes_filename(run_id, since_run, fmt)
        return periodic.changes_file(engine, run_id, since_run, fmt, target, links)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@app.command()
def close(
    month: Annotated[str, typer.Argument(help="The month to close, YYYY-MM (every earlier month closes too).")],
    config: ConfigOpt = None,
) -> None:
    """Freeze a month: its roll-forward is kept as rendered, later corrections book into the first
    open month. Needs the run lock (exit 3 while a run is in flight)."""
    from connector.config import ConfigError
    from connector.report.closing import CloseRefused, close_month
    from connector.report.periodfmt import equation
    from connector.report.periodic import program_of
    from connector.run.lock import run_lock
    from connector.run.runner import open_engine
    from connector.store.db import session_factory

    with _exit_codes():
        settings = _settings(config)
        engine = open_engine(settings)
        try:
            with run_lock(engine, settings.lock.ttl_seconds), session_factory(engine)() as session, session.begin():
                try:
                    closed = close_month(session, program_of(session), month)
                except (CloseRefused, ValueError) as exc:
                    raise ConfigError(str(exc)) from None
        finally:
            engine.dispose()
        if not closed:
            _out().print(f"{month} is already closed", highlight=False)
        for c in closed:
            lines = "; ".join(f"{line.currency}: {equation(line)}" for line in c.roll_forward.currencies)
            _out().print(f"closed {c.period} (sha256 {c.digest[:12]}): {lines or 'no entries'}", highlight=False,
                         soft_wrap=True)  # fmt: skip


@app.command()
def check(config: ConfigOpt = None) -> None:
    """Can this configuration run? Database, both APIs' keys, program groups, mappings, finance files.

    One line per check; exit 0 all passed, 1 a check failed, 2 the config itself is bad."""
    from connector.config import resolve_config_path
    from connector.run.check import run_checks

    with _exit_codes():
        settings = _settings(config)
        path = resolve_config_path(config)
        source = f"{path} loaded" if path is not None else "built-in defaults and the environment (no config file)"
        report = run_checks(settings, source)
        for line in report.lines:
            _out().print(line.render(), markup=False, highlight=False, soft_wrap=True)
        if not report.ok:
            raise typer.Exit(EXIT_RUN_FAILED)


@app.command()
def serve(config: ConfigOpt = None) -> None:
    """Run sync on the configured schedule; serve /healthz and /metrics. Stops on SIGTERM/SIGINT."""
    from connector.config import require_fingerprint_key
    from connector.run.runner import open_engine
    from connector.run.scheduler import serve as serve_forever

    with _exit_codes():
        settings = _settings(config)
        require_fingerprint_key(settings)  # exit 2 before binding a port, not at the first scheduled run
        # fail fast (exit 1/2) on an unreachable database or a schema it may not migrate
        open_engine(settings, prepare=True, serving=True).dispose()
        serve_forever(settings)


def _reachable_engine(settings: Settings) -> Any:
    """An engine on the configured database, pinged (`DatabaseUnavailable` names it else)."""
    from connector.run.runner import ping_or_explain
    from connector.store.db import make_engine

    engine = make_engine(settings.database.url)
    try:
        ping_or_explain(engine, settings.database.url)
    except BaseException:
        engine.dispose()
        raise
    return engine


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply the schema migrations."""
    from connector.run.runner import describe_database
    from connector.store.db import current_revision, upgrade

    with _exit_codes():
        settings = _settings(config)
        engine = _reachable_engine(settings)
        try:
            upgrade(engine)
            revision = current_revision(engine)
        finally:
            engine.dispose()
        _out().print(f"database ({describe_database(settings.database.url)}) is at revision {revision}",
                     highlight=False, soft_wrap=True)


@db_app.command("current")
def db_current(config: ConfigOpt = None) -> None:
    """Print the schema revision and whether it is at head (exit 1 when behind); creates nothing."""
    from connector.run.runner import DatabaseMissing, describe_database, sqlite_file
    from connector.store.db import current_revision, head_revision

    with _exit_codes():
        settings = _settings(config)
        where = describe_database(settings.database.url)
        path = sqlite_file(settings.database.url)
        if path is not None and not path.is_file():
            raise DatabaseMissing(f"no database at {path}")
        engine = _reachable_engine(settings)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
        head = head_revision()
        state = "at head" if current == head else f"behind head {head}: run `connector db upgrade`"
        _out().print(f"database ({where}) is at revision {current or 'nothing'} ({state})", highlight=False,
                     soft_wrap=True)
        if current != head:
            raise typer.Exit(EXIT_RUN_FAILED)


@app.command()
def sandbox(
    scenario: Annotated[Path, typer.Option("--scenario", help="Scenario JSON file.")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8765,
    faults: Annotated[str | None, typer.Option("--faults", help="e.g. 429=0.2,5xx=0.05,drop=0.02,seed=7")] = None,
    stripe_key: Annotated[str | None, typer.Option("--stripe-key", help="Accept only this Stripe key.")] = None,
    partnerstack_keys: Annotated[
        str | None, typer.Option("--partnerstack-keys", help="Accept only this PUBLIC:SECRET pair.")
    ] = None,
    costs_csv: Annotated[Path | None, typer.Option("--costs-csv", help="Write finance's cost file here.")] = None,
    fx_csv: Annotated[Path | None, typer.Option("--fx-csv", help="Write finance's FX rate file here.")] = None,
    event_api_version: Annotated[
        str | None, typer.Option("--event-api-version", help="Render Stripe events in this API version (2024-06-20).")
    ] = None,
    rate_limit: Annotated[float | None, typer.Option("--rate-limit", help="Requests a second per API.")] = None,
    rate_limit_endpoint: Annotated[
        float | None, typer.Option("--rate-limit-endpoint", help="Requests a second per endpoint.")
    ] = None,
    legacy_field_data: Annotated[bool, typer.Option("--legacy-field-data", help="Also serve field_data.")] = False,
) -> None:
    """Serve a scenario as PartnerStack and Stripe APIs on loopback until stopped."""
    _require_sandbox()
    from sandbox.server import serve as serve_sandbox

    if not scenario.is_file():
        _fail(EXIT_USAGE, f"scenario file not found: {scenario}")
    if partnerstack_keys is not None and ":" not in partnerstack_keys:
        _fail(EXIT_USAGE, "--partnerstack-keys must be PUBLIC:SECRET")
    from connector.run.logs import setup_logging

    setup_logging("INFO", "auto")
    try:
        if fx_csv is not None:  # finance.fx_rates, as the run's [finance] fx_rates_file reads it
            from sandbox.costs import write_fx_csv
            from sandbox.scenario import load_scenario

            write_fx_csv(load_scenario(scenario), fx_csv)
        serve_sandbox(scenario, host, port, faults, stripe_key, partnerstack_keys, costs_csv,
                      event_api_version, rate_limit, rate_limit_endpoint, legacy_field_data=legacy_field_data)
    except ValueError as exc:  # a scenario or fault spec that does not load
        _fail(EXIT_USAGE, str(exc).splitlines()[0] if str(exc) else "bad scenario")
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option("--workdir", help="Where the database and reports go.")] = Path(
        "demo-output"
    ),
    port: Annotated[int, typer.Option("--port", help="Sandbox port (0: any free port).")] = 0,
) -> None:
    """Start the sandbox with the bundled demo scenario, sync it, print the summary, write the reports."""
    _require_sandbox()
    from connector.run.demo import run_demo
    from connector.run.logs import setup_logging

    setup_logging("WARNING", "auto")
    with _exit_codes():
        result = run_demo(workdir, port=port, progress=_progress)
        if result.summary is not None:
            _out().print(result.summary)
        for line in result.lines:
            _out().print(line, markup=False, highlight=False, soft_wrap=True)


def _require_sandbox() -> None:
    """The production image leaves the sandbox out: say so in one line instead of a traceback."""
    import importlib.util

    if importlib.util.find_spec("sandbox") is None:
        _fail(EXIT_USAGE, "the sandbox is not installed here (the production image leaves it out): "
                          "build the image with --target demo, or install the project from its repository")


def _register_more() -> None:
    """Commands kept in modules of their own (imported here, typer only: `--help` stays fast)."""
    from connector.run import approvals, explain_cli, quarantine_cli, whatif_cli

    approvals.register(app)
    explain_cli.register(app)
    whatif_cli.register(app)
    quarantine_cli.register(app)


_register_more()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
