"""Rich tables: the short summary the CLI and demo print, and the full report as text."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from connector.money import format_money, iso_utc
from connector.report.model import ALL_STATUSES, Report


def summary_of(report: Report) -> Table:
    """Totals per currency, submissions by decision, entries by status, quarantined, checks."""
    run = report.run
    table = Table(title=report.title, show_header=True, header_style="bold")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    table.add_row("run status", run.status)
    table.add_row("as of", iso_utc(run.as_of) or "—", end_section=True)
    for currency, t in report.totals.items():
        table.add_row(f"net revenue ({currency})", format_money(t.net_revenue_minor, currency))
        table.add_row(f"commission ({currency})", format_money(t.commission_minor, currency))
        if t.bonus_minor:
            table.add_row(f"bonus ({currency})", format_money(t.bonus_minor, currency))
        for status in ALL_STATUSES:
            amount = getattr(t, f"{status}_minor")
            if amount or status in ("held", "pushed"):
                table.add_row(f"  {status} ({currency})", format_money(amount, currency))
        table.add_row(f"total ({currency})", format_money(t.total_minor, currency), end_section=True)
    decisions = Counter(s.decision for s in report.submissions)
    for decision, count in sorted(decisions.items()):
        table.add_row(f"submissions {decision}", str(count))
    statuses = Counter(e.status for e in report.entries)
    for status, count in sorted(statuses.items()):
        table.add_row(f"entries {status}", str(count))
    table.add_row("quarantined", str(len(report.quarantined)))
    failing = [c for c in report.checks if not c.holds]
    verdict = Text("all hold", style="green") if not failing else Text(f"{len(failing)} FAIL", style="bold red")
    table.add_row("checks", verdict)
    return table


def _section(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def report_tables(report: Report) -> Group:
    parts: list[Table] = [summary_of(report)]
    if report.streams:
        parts.append(
            _section(
                "Pulled per stream",
                ["stream", "pulled", "quarantined", "pages", "requests", "retries"],
                [[s.stream, str(s.pulled), str(s.quarantined), str(s.pages), str(s.requests), str(s.retries)]
                 for s in report.streams],
            )
        )
    parts.append(
        _section(
            "Checks",
            ["check", "currency", "holds", "statement"],
            [[c.name, c.currency or "", "yes" if c.holds else "NO",
              c.statement + "".join(f"\n  ! {x}" for x in c.exceptions)] for c in report.checks],
        )
    )
    parts.append(
        _section(
            "Submissions",
            ["submitted", "submission", "partner", "customer", "decision", "reason"],
            [[iso_utc(s.submitted_at) or "", s.submission_key, s.partner_key or "", s.customer_key or "",
              s.decision, s.reason or ""] for s in report.submissions],
        )
    )
    parts.append(
        _section(
            "Entries",
            ["partner", "customer", "kind", "basis", "rate", "amount", "status", "reason", "sources", "reward"],
            [[e.partnership_key, e.customer_key or "", e.kind, format_money(e.basis_minor, e.currency), e.rate,
              format_money(e.amount_minor, e.currency), e.status, e.reason or "", " ".join(e.sources),
              e.platform_reward_key or ""] for e in report.entries],
        )
    )
    if report.partners:
        parts.append(
            _section(
                "Partners",
                ["partner", "name", "group", "country", "tax form", "tax id", "bank"],
                [[p.key, p.name or "", p.group_slug or "", p.country or "", p.tax_form or "",
                  f"…{p.tax_id_last4}" if p.tax_id_last4 else "—", f"…{p.bank_last4}" if p.bank_last4 else "—"]
                 for p in report.partners],
            )
        )
    if report.quarantined:
        parts.append(
            _section("Quarantined", ["source", "id", "error"],
                     [[q.source, q.id or "", q.error] for q in report.quarantined])
        )
    if report.findings:
        parts.append(
            _section("Findings", ["code", "subject", "detail"],
                     [[f.code, f.subject_key or "", f.detail or ""] for f in report.findings])
        )
    if report.notes:
        parts.append(_section("Run notes", ["note"], [[n] for n in report.notes]))
    return Group(*parts)


def render_table(report: Report, width: int = 160) -> str:
    """The whole report as plain text (no colour codes), for files and pipes."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
    console.print(report_tables(report))
    return buffer.getvalue()
