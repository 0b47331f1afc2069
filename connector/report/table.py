"""Rich tables: the short summary the CLI and demo print, and the full report as text."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from connector.money import format_money, iso_utc
from connector.report.model import ALL_STATUSES, Check, CurrencyTotals, EntryRow, FindingRow, PayoutTotals, Report
from connector.report.rates import loud_findings
from connector.report.readable import as_date, labelled
from connector.rules.ratekeys import RATE_KEY_UNMATCHED

# Status lines the summary always shows, even at zero: what finance looks for first.
_ALWAYS_SHOWN_STATUSES = ("held", "pushed")


def summary_of(report: Report) -> Table:
    """Totals per currency, submissions by decision, entries by status, quarantined, checks."""
    run = report.run
    table = Table(title=report.title, show_header=True, header_style="bold")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    for finding in loud_findings(report.findings):  # first: money the program cannot price
        table.add_row(Text(f"WARNING {finding.code}", style="bold red"), Text(_loud(finding), style="bold red"),
                      end_section=True)
    table.add_row("run status", run.status)
    table.add_row("as of", iso_utc(run.as_of) or "—", end_section=not report.partner_key)
    if report.partner_key:
        span = report.entry_dates
        table.add_row("period", f"{span[0]} to {span[1]}" if span else "no entries", end_section=True)
    for currency, totals in report.totals.items():
        _add_currency_rows(table, currency, totals)
    for payout in report.payout_totals.values():
        _add_payout_rows(table, payout)
    _add_counts(table, "submissions", Counter(s.decision for s in report.submissions))
    _add_counts(table, "entries", Counter(e.status for e in report.entries))
    # what the platform says of the pushed rewards (approved, declined, paid), read back each run
    _add_counts(table, "pushed, platform", Counter(e.platform_status or "not read yet" for e in report.entries
                                                   if e.status == "pushed"))  # fmt: skip
    table.add_row("quarantined", str(len(report.quarantined)))
    table.add_row("checks", _verdict(report))
    return table


def _loud(finding: FindingRow) -> str:
    return (finding.detail or "") if finding.code == RATE_KEY_UNMATCHED else f"{finding.subject_key}: {finding.detail}"


def _add_currency_rows(table: Table, currency: str, t: CurrencyTotals) -> None:
    table.add_row(f"net revenue ({currency})", format_money(t.net_revenue_minor, currency))
    table.add_row(f"commission ({currency})", format_money(t.commission_minor, currency))
    if t.bonus_minor:
        table.add_row(f"bonus ({currency})", format_money(t.bonus_minor, currency))
    for status in ALL_STATUSES:
        amount = getattr(t, f"{status}_minor")
        if amount or status in _ALWAYS_SHOWN_STATUSES:
            table.add_row(f"  {status} ({currency})", format_money(amount, currency))
    table.add_row(f"total ({currency})", format_money(t.total_minor, currency), end_section=True)


def _add_payout_rows(table: Table, t: PayoutTotals) -> None:
    """Shown once some entry is paid in another currency than its own: what the platform is paid."""
    if not t.converted:
        return
    currency = t.currency
    table.add_row(f"payout payable ({currency})", format_money(t.payable_minor, currency))
    table.add_row(f"payout pushed ({currency})", format_money(t.pushed_minor, currency))
    table.add_row(f"  of which converted ({currency})", f"{t.converted} entries", end_section=True)


def _add_counts(table: Table, label: str, counts: Counter[str]) -> None:
    for value, count in sorted(counts.items()):
        table.add_row(f"{label} {value}", str(count))


def _verdict(report: Report) -> Text:
    failing = [c for c in report.checks if not c.holds]
    return Text("all hold", style="green") if not failing else Text(f"{len(failing)} FAIL", style="bold red")


def _section(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _stream_rows(report: Report) -> list[list[str]]:
    return [
        [s.stream, str(s.pulled), str(s.quarantined), str(s.pages), str(s.requests), str(s.retries)]
        for s in report.streams
    ]


def _check_rows(report: Report) -> list[list[str]]:
    return [[c.name, c.currency or "", "yes" if c.holds else "NO", _statement(c)] for c in report.checks]


def _statement(check: Check) -> str:
    """The check's statement with each exception on a line of its own."""
    return check.statement + "".join(f"\n  ! {x}" for x in check.exceptions)


def _submission_rows(report: Report) -> list[list[str]]:
    names = report.names()
    return [
        [as_date(s.submitted_at), s.submission_key, labelled(s.partnership_key, names.partner(s.partnership_key)),
         labelled(s.customer_key, names.customer(s.customer_key)), s.decision, s.reason or ""]
        for s in report.submissions
    ]


def _entry_rows(report: Report) -> list[list[str]]:
    names = report.names()
    return [
        [e.partnership_key, labelled(e.customer_key, names.customer(e.customer_key)), as_date(e.event_at), e.kind,
         format_money(e.basis_minor, e.currency), e.rate,
         format_money(e.amount_minor, e.currency), _payout_text(e), e.status, e.reason or "", " ".join(e.sources),
         e.platform_reward_key or ""]
        for e in report.entries
    ]


def _entry_note_rows(report: Report) -> list[list[str]]:
    """Each entry's arithmetic in words, in the entries' order (a section of its own: a column of long
    text would squeeze the entries table into folds)."""
    return [[e.partnership_key, e.customer_key or "", e.kind, e.note] for e in report.entries if e.note]


def _payout_text(e: EntryRow) -> str:
    """The payout in the reward currency, with the rate when converted ("88.90 USD @ 1.27 on 2026-01-01")."""
    if e.payout_amount_minor is None or e.payout_currency is None:
        return ""
    paid = format_money(e.payout_amount_minor, e.payout_currency)
    if e.payout_currency == e.currency:
        return paid
    return f"{paid} @ {e.fx_rate} on {e.fx_date.isoformat() if e.fx_date else '?'}"


def _last4(value: str | None) -> str:
    return f"…{value}" if value else "—"


def _partner_rows(report: Report) -> list[list[str]]:
    return [
        [p.key, p.name or "", p.group_slug or "", p.country or "", p.tax_form or "", _last4(p.tax_id_last4),
         _last4(p.bank_last4)]
        for p in report.partners
    ]


def _quarantine_rows(report: Report) -> list[list[str]]:
    return [[q.source, q.id or "", q.error] for q in report.quarantined]


def _finding_rows(report: Report) -> list[list[str]]:
    return [[f.code, f.subject_key or "", f.detail or ""] for f in report.findings]


def _note_rows(report: Report) -> list[list[str]]:
    return [[n] for n in report.notes]


@dataclass(frozen=True)
class _TextSection:
    title: str
    columns: tuple[str, ...]
    rows: Callable[[Report], list[list[str]]]
    shown_when_empty: bool = False


# The sections after the summary, in the order they print.
_SECTIONS = (
    _TextSection("Pulled per stream", ("stream", "pulled", "quarantined", "pages", "requests", "retries"),
                 _stream_rows),
    _TextSection("Checks", ("check", "currency", "holds", "statement"), _check_rows, shown_when_empty=True),
    _TextSection("Submissions", ("submitted", "submission", "partner", "customer", "decision", "reason"),
                 _submission_rows, shown_when_empty=True),
    _TextSection("Entries", ("partner", "customer", "date", "kind", "basis", "rate", "amount", "payout", "status",
                             "reason", "sources", "reward"), _entry_rows, shown_when_empty=True),
    _TextSection("Entry notes", ("partner", "customer", "kind", "note"), _entry_note_rows),
    _TextSection("Partners", ("partner", "name", "group", "country", "tax form", "tax id", "bank"), _partner_rows),
    _TextSection("Quarantined", ("source", "id", "error"), _quarantine_rows),
    _TextSection("Findings", ("code", "subject", "detail"), _finding_rows),
    _TextSection("Run notes", ("note",), _note_rows),
    _TextSection("Payout approvals", ("at", "batch", "action", "by", "note", "detail"), lambda r: [
        [iso_utc(a.at) or "", a.batch_id, a.action, a.actor or "", a.note or "", a.detail] for a in r.payout_audit]),
)


def report_tables(report: Report) -> Group:
    parts: list[Table] = [summary_of(report)]
    for section in _SECTIONS:
        rows = section.rows(report)
        if rows or section.shown_when_empty:
            parts.append(_section(section.title, section.columns, rows))
    return Group(*parts)


def render_table(report: Report, width: int = 200) -> str:
    """The whole report as plain text (no colour codes), for files and pipes."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(report_tables(report))
    return buffer.getvalue()
