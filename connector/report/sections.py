"""The report as named tables of typed cells: what the CSV and XLSX renderers share.

Money cells keep the minor-unit integer and the currency together, so each
renderer decides how to show them (a decimal string, a formatted number) without
ever computing with a float.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from connector.report.jsonfmt import TOTAL_FIELDS
from connector.report.model import EntryRow, Report
from connector.report.readable import Links, Names
from connector.report.subtotals import partner_subtotals


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Linked:
    """Text that opens `url` where the format can link (XLSX); CSV writes the text alone."""

    text: str
    url: str | None


Cell = str | int | Money | Linked | dt.datetime | None


@dataclass(frozen=True)
class Section:
    name: str
    columns: list[str]
    rows: list[list[Cell]]


ENTRY_COLUMNS = [
    "partner_key", "partner_name", "customer_key", "customer_name", "event_at", "entry_key", "kind", "basis_minor",
    "basis", "rate",
    "amount_minor", "amount", "currency", "status", "reason", "sources", "payable_at", "platform_reward_key",
    "pushed_at", "created_run_id", "payout_amount_minor", "payout", "payout_currency", "fx_rate", "fx_date",
    "fx_source", "note",
]


def _partner(key: str | None, links: Links) -> Cell:
    return Linked(key, links.partner(key)) if key else None


def _customer(key: str | None, names: Names, links: Links) -> Cell:
    return Linked(key, links.stripe(names.stripe_customer(key))) if key else None


def _entry_cells(e: EntryRow, names: Names, links: Links) -> list[Cell]:
    sources = Linked(" ".join(e.sources), links.stripe(e.sources[0]) if e.sources else None)
    return [
        _partner(e.partnership_key, links), names.partner(e.partnership_key), _customer(e.customer_key, names, links),
        names.customer(e.customer_key), e.event_at, e.entry_key, e.kind, e.basis_minor,
        Money(e.basis_minor, e.currency), e.rate, e.amount_minor, Money(e.amount_minor, e.currency), e.currency,
        e.status, e.reason, sources, e.payable_at, e.platform_reward_key, e.pushed_at, e.created_run_id,
        *_payout_cells(e), e.note,
    ]


def _payout_cells(e: EntryRow) -> list[Cell]:
    """What the entry pays in the reward currency, beside its own amount (empty while no rate applies)."""
    paid = None if e.payout_amount_minor is None or e.payout_currency is None else Money(
        e.payout_amount_minor, e.payout_currency)
    return [e.payout_amount_minor, paid, e.payout_currency, e.fx_rate, e.fx_date.isoformat() if e.fx_date else None,
            e.fx_source]


def _payout_totals_section(report: Report) -> Section:
    return Section(
        "payout_totals",
        ["payout_currency", "payable", "pushed", "total", "payable_minor", "pushed_minor", "total_minor", "entries",
         "converted"],
        [[cur, Money(t.payable_minor, cur), Money(t.pushed_minor, cur), Money(t.total_minor, cur), t.payable_minor,
          t.pushed_minor, t.total_minor, t.entries, t.converted] for cur, t in report.payout_totals.items()],
    )


def _run_section(report: Report) -> Section:
    run = report.run
    run_rows: list[list[Cell]] = [
        ["id", run.id], ["kind", run.kind], ["program", run.program], ["status", run.status],
        ["as_of", run.as_of], ["started_at", run.started_at], ["finished_at", run.finished_at],
        ["error", run.error],
    ]
    if report.partner_key:
        span = report.entry_dates
        run_rows.extend([
            ["partner_key", report.partner_key], ["partner_name", report.names().partner(report.partner_key)],
            ["period_from", span[0] if span else None], ["period_to", span[1] if span else None],
        ])
    return Section("run", ["field", "value"], run_rows)


def _totals_section(report: Report) -> Section:
    """Per currency: each sum as money for people, then as minor units for machines."""
    money_fields = [f for f in TOTAL_FIELDS if f.endswith("_minor")]
    return Section(
        "totals",
        ["currency", *[f.removesuffix("_minor") for f in money_fields], *money_fields, "entries"],
        [
            [cur, *[Money(getattr(t, f), cur) for f in money_fields], *[getattr(t, f) for f in money_fields],
             t.entries]
            for cur, t in report.totals.items()
        ],
    )


def _by_partner_section(report: Report, names: Names) -> Section:
    """Per partner and currency: what the partner's entries add up to (they sum to the totals)."""
    money_fields = [f for f in TOTAL_FIELDS if f.endswith("_minor")]
    return Section(
        "by_partner",
        ["partner_key", "partner_name", "currency", *[f.removesuffix("_minor") for f in money_fields], *money_fields,
         "entries"],
        [
            [_partner(s.partner_key, report.links), names.partner(s.partner_key), s.currency,
             *[Money(getattr(s.totals, f), s.currency) for f in money_fields],
             *[getattr(s.totals, f) for f in money_fields], s.totals.entries]
            for s in partner_subtotals(report.entries)
        ],
    )


def report_sections(report: Report) -> list[Section]:
    names, links = report.names(), report.links
    return [
        _run_section(report),
        _totals_section(report),
        _by_partner_section(report, names),
        _payout_totals_section(report),
        Section(
            "checks",
            ["name", "currency", "holds", "statement", "exceptions"],
            [[c.name, c.currency, "yes" if c.holds else "NO", c.statement, "; ".join(c.exceptions)]
             for c in report.checks],
        ),
        Section(
            "pulled",
            ["stream", "pulled", "quarantined", "pages", "requests", "retries"],
            [[s.stream, s.pulled, s.quarantined, s.pages, s.requests, s.retries] for s in report.streams],
        ),
        Section(
            "submissions",
            ["submitted_at", "submission_key", "submission_type", "partner_key", "partner_name", "customer_key",
             "customer_name", "decision", "reason"],
            [[s.submitted_at, s.submission_key, s.submission_type, _partner(s.partnership_key, links),
              names.partner(s.partnership_key), _customer(s.customer_key, names, links), names.customer(s.customer_key),
              s.decision, s.reason] for s in report.submissions],
        ),
        Section("entries", ENTRY_COLUMNS, [_entry_cells(e, names, links) for e in report.entries]),
        Section("held", ENTRY_COLUMNS, [_entry_cells(e, names, links) for e in report.held_entries]),
        Section("pushed", ENTRY_COLUMNS, [_entry_cells(e, names, links) for e in report.pushed_entries]),
        Section(
            "quarantined",
            ["source", "id", "error", "created_at"],
            [[q.source, q.id, q.error, q.created_at] for q in report.quarantined],
        ),
        Section(
            "findings",
            ["program", "subject_key", "code", "detail"],
            [[f.program, f.subject_key, f.code, f.detail] for f in report.findings],
        ),
        Section(
            "partners",
            ["key", "name", "group", "country", "tax_form", "tax_id_last4", "bank_kind", "bank_last4"],
            [[_partner(p.key, links), p.name, p.group_slug, p.country, p.tax_form, p.tax_id_last4, p.bank_kind,
              p.bank_last4] for p in report.partners],
        ),
        Section("notes", ["note"], [[n] for n in report.notes]),
        *_audit_sections(report),
    ]


def _audit_sections(report: Report) -> list[Section]:
    """The payout approval audit, only when approval was used."""
    if not report.payout_audit:
        return []
    return [Section(
        "payout_audit",
        ["at", "batch_id", "action", "actor", "note", "run_id", "detail"],
        [[a.at, a.batch_id, a.action, a.actor, a.note, a.run_id, a.detail] for a in report.payout_audit],
    )]  # fmt: skip
