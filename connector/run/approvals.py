"""`connector payouts`, `approve` and `reject`: finance's side of approval before push.

Their own module so the CLI file stays one command per concern; `connector.run.cli` calls
`register(app)` once. Like the rest of the CLI, everything past typer is imported inside the
commands. `approve` and `reject` take the run lock (exit 3 while a run holds it), so a push never
reads a batch half-decided.
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from connector.run.options import ConfigOpt as _ConfigOpt

if TYPE_CHECKING:
    from connector.push.batches import BatchView

_ByOpt = Annotated[str, typer.Option("--by", help="Who decides (a name; recorded in the audit table).")]


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"


def payouts(
    config: _ConfigOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="Every batch, not only pending and approved.")] = False,
    fmt: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = ListFormat.table,
) -> None:
    """The payout batches waiting for approval (or all): per partner, amount per currency, entries, reasons."""
    from connector.push.batches import batch_views
    from connector.rules.program import load_program
    from connector.run.cli import _exit_codes, _out, _settings
    from connector.run.runner import open_engine
    from connector.store.db import session_factory

    with _exit_codes():
        settings = _settings(config)
        program = load_program(settings.program.file).name
        engine = open_engine(settings)
        try:
            with session_factory(engine)() as session:
                views = batch_views(session, program, None if show_all else ("pending", "approved"))
        finally:
            engine.dispose()
    if fmt == ListFormat.json:
        sys.stdout.write(json.dumps({"program": program, "batches": [v.as_json() for v in views]}, indent=2) + "\n")
        return
    if not views:
        off = settings.push.approval == "none"
        hint = " (approval is off: [push] approval = \"none\" pushes payable entries as they come)" if off else ""
        _out().print(f"no payout batches {'at all' if show_all else 'waiting'} for {program}{hint}",
                     highlight=False, markup=False)  # fmt: skip
        return
    for view in views:
        _out().print(_batch_table(view))


def _batch_table(view: BatchView) -> object:
    from rich.table import Table

    from connector.money import format_money

    approvals = f"{len(view.approvers)}/{view.approvals_needed}" + (
        f" ({', '.join(view.approvers)})" if view.approvers else "")  # fmt: skip
    out = format_money(view.payout_out_minor, view.payout_currency)
    title = (f"batch {view.id} · {view.status} · run {view.run_id} · {view.entries} entries · {out} out · "
             f"approvals {approvals}\ncontent hash {view.content_hash}")  # fmt: skip
    if view.note:
        title += f"\nnote: {view.note}"
    table = Table(title=title, title_justify="left")
    for column in ("partner", "amount", "payout", "entries", "reasons"):
        table.add_column(column, justify="right" if column in ("amount", "payout", "entries") else "left")
    for p in view.partners:
        table.add_row(
            p.partnership_key,
            ", ".join(format_money(v, c) for c, v in sorted(p.amounts.items())),
            ", ".join(format_money(v, c) for c, v in sorted(p.payout.items())),
            str(p.entries),
            ", ".join(f"{kind} x{n}" for kind, n in sorted(p.reasons.items())),
        )
    table.add_row(
        "total",
        ", ".join(format_money(v, c) for c, v in view.totals.items()),
        ", ".join(format_money(v, c) for c, v in view.payout_totals.items()),
        str(view.entries), "", end_section=True,
    )  # fmt: skip
    return table


def approve(
    batch: Annotated[str, typer.Argument(help="The batch id `connector payouts` shows.")],
    by: _ByOpt,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the audit table.")] = None,
    config: _ConfigOpt = None,
) -> None:
    """Approve a payout batch (a second, different approver above push.second_approval_over)."""
    _decide("approve", batch, by, note, config)


def reject(
    batch: Annotated[str, typer.Argument(help="The batch id `connector payouts` shows.")],
    by: _ByOpt,
    note: Annotated[str, typer.Option("--note", help="Why: kept with the batch and in the audit table.")],
    config: _ConfigOpt = None,
) -> None:
    """Reject a payout batch: its entries stay unpushed with the note until they change."""
    _decide("reject", batch, by, note, config)


def _decide(action: str, batch_id: str, by: str, note: str | None, config: Path | None) -> None:
    from connector.push import approval
    from connector.run.cli import EXIT_RUN_FAILED, _exit_codes, _fail, _out, _settings
    from connector.run.lock import run_lock
    from connector.run.runner import open_engine
    from connector.store.db import session_factory, transaction

    with _exit_codes():
        settings = _settings(config)
        engine = open_engine(settings)
        try:
            with run_lock(engine, settings.lock.ttl_seconds), transaction(session_factory(engine)) as session:
                try:
                    if action == "approve":
                        decided = approval.approve(session, batch_id, by, note)
                    else:
                        decided = approval.reject(session, batch_id, by, note or "")
                except approval.ApprovalError as exc:  # nothing recorded: the transaction rolls back
                    _fail(EXIT_RUN_FAILED, str(exc))
                line = approval.describe(decided)
                stale = decided.status == "stale"
        finally:
            engine.dispose()
    if stale:
        _fail(EXIT_RUN_FAILED, f"{line}: an entry changed after it was built; the next run builds a fresh batch")
    _out().print(line, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the approval commands to the CLI."""
    app.command()(payouts)
    app.command()(approve)
    app.command()(reject)
