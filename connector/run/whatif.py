"""What-if: the whole ledger computed under another program file (or mappings) from the stored world.

The compute is the real one (`connector.ledger.compute.compute_in`, a full pass) run inside one
transaction that is always rolled back: every entry it would append, every status it would move, the
decisions, findings, compute state and status history it would write are seen, then discarded.
Nothing reaches the store. What it reports is the difference against the ledger as booked: per
partner and customer, what would be booked, taken back and held (`connector.report.whatif`).

The other program replaces the configured one: it is computed under the configured program's name,
so its groups meet the booked ones and only differences are appended, exactly as a real recompute
after switching `[program] file` would append them. Its as-of time defaults to the last compute's,
so time passing is not mistaken for the program's doing.

With `--mappings DIR` the stored payloads (`raw`) of every stream that keeps them are mapped again
with that folder's files first, in the same transaction. Tax ids and bank numbers are never stored,
so the partner columns derived from them keep what the pull recorded.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Settings
from connector.context import RunContext
from connector.ledger.compute import compute_in
from connector.ledger.entries import EntryRow
from connector.report.whatif import EntryChange, WhatIf, diff_ledgers
from connector.rules.program import Program, load_program
from connector.store.models import ComputeState, LedgerEntry

WHATIF_RUN = "whatif"
"""The run id the rolled-back pass appends under (it never reaches the store)."""


def renamed(program: Program, name: str) -> Program:
    """`program` computed as `name`: its entries meet the booked ledger's groups."""
    if program.name == name:
        return program
    return program.model_copy(update={"program": program.program.model_copy(update={"name": name})})


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session whose one transaction is rolled back whatever happens inside."""
    session = Session(engine, expire_on_commit=False)
    try:
        session.begin()
        yield session
    finally:
        session.rollback()
        session.close()


def ledger_state(session: Session, program: str) -> dict[str, EntryRow]:
    """The program's ledger as rows, by entry key."""
    out: dict[str, EntryRow] = {}
    for e in session.scalars(select(LedgerEntry).where(LedgerEntry.program == program)):
        out[e.entry_key] = EntryRow(
            entry_key=e.entry_key, group_key=e.group_key, partnership_key=e.partnership_key,
            customer_key=e.customer_key, kind=e.kind, basis_minor=e.basis_minor, rate=e.rate,
            amount_minor=e.amount_minor, currency=e.currency, status=e.status, reason=e.reason,
            sources=tuple(e.sources or ()), event_at=e.event_at, payable_at=e.payable_at, push_state=e.push_state,
            platform_reward_key=e.platform_reward_key, pushed_at=e.pushed_at, created_run_id=e.created_run_id,
            pushed_run_id=e.pushed_run_id, payout_amount_minor=e.payout_amount_minor,
            payout_currency=e.payout_currency, fx_rate=e.fx_rate, fx_date=e.fx_date, fx_source=e.fx_source,
            platform_status=e.platform_status,
        )  # fmt: skip
    return out


def default_as_of(session: Session, program: str) -> dt.datetime:
    """The last compute's as-of time (so only the program's difference shows), else now."""
    state = session.get(ComputeState, program)
    return state.as_of if state is not None else dt.datetime.now(dt.UTC)


def what_if(
    settings: Settings, engine: Engine, *, program_file: str | Path | None = None,
    mappings_dir: str | Path | None = None, as_of: dt.datetime | None = None,
) -> WhatIf:  # fmt: skip
    """The difference a recompute under `program_file` (and/or `mappings_dir`) would make; writes nothing."""
    stored = load_program(settings.program.file)
    other = renamed(load_program(program_file), stored.name) if program_file is not None else stored
    alt_settings = settings
    if mappings_dir is not None:
        alt_settings = settings.model_copy(
            update={"mappings": settings.mappings.model_copy(update={"dir": str(mappings_dir)})}
        )
    with rolled_back(engine) as session:
        when = as_of or default_as_of(session, stored.name)
        ctx = RunContext(
            settings=alt_settings, engine=engine, sessions=sessionmaker(engine), run_id=WHATIF_RUN, kind="sync",
            as_of=when,
        )  # fmt: skip
        before = ledger_state(session, stored.name)
        remapped: dict[str, int] = {}
        if mappings_dir is not None:
            from connector.run.remap import remap_stored

            remapped = remap_stored(session, ctx)
        result = compute_in(session, ctx, other, incremental=False)
        after = ledger_state(session, stored.name)
    changes: list[EntryChange] = diff_ledgers(before, after)
    return WhatIf(
        program=stored.name, program_file=str(program_file) if program_file is not None else None,
        mappings_dir=str(mappings_dir) if mappings_dir is not None else None, as_of=when, changes=changes,
        decisions=dict(result.decisions), remapped=remapped,
        findings=dict(sorted(Counter(f.code for f in result.findings).items())),
    )  # fmt: skip
