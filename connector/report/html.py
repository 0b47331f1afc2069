"""HTML: one self-contained, print-friendly page (inline CSS and SVG, nothing fetched).

What a person reads: names beside keys, dates as dates, keys that open the Stripe dashboard or
the PartnerStack partner, and the entries grouped by partner with a subtotal per currency. The
print stylesheet lays the page out landscape and never lets a key wrap one character a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from connector.money import format_money, iso_utc
from connector.report.chart import build_chart
from connector.report.model import ALL_STATUSES, EntryRow, Report
from connector.report.rates import loud_findings
from connector.report.readable import as_date, as_time
from connector.report.subtotals import PartnerSubtotal, partner_subtotals

TEMPLATE = "report.html.j2"


def _load_template(name: str) -> str:
    return (files("connector.report") / "templates" / name).read_text(encoding="utf-8")


def _environment() -> Environment:
    env = Environment(
        loader=FunctionLoader(_load_template),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = format_money
    env.filters["iso"] = lambda value: iso_utc(value) or ""
    env.filters["date"] = as_date
    env.filters["time"] = as_time
    env.filters["key"] = breakable_key
    return env


_BREAK_AFTER = "|#"  # where a long key may wrap: between its parts, never inside one


def breakable_key(key: str | None) -> Markup:
    """A key escaped, with a line-break opportunity after each separator, so a narrow column wraps
    `consio|part_ada|cust_acme|…` at its bars instead of one character a line."""
    text = str(escape(key or ""))
    for sep in _BREAK_AFTER:
        text = text.replace(sep, sep + "<wbr>")
    return Markup(text)


@dataclass(frozen=True)
class PartnerGroup:
    """A partner's entries with its subtotals, as the entries section prints them."""

    partner_key: str
    entries: list[EntryRow]
    subtotals: list[PartnerSubtotal]


def partner_groups(report: Report) -> list[PartnerGroup]:
    """One group per partner, in the entries' (partner-key) order."""
    subtotals: dict[str, list[PartnerSubtotal]] = {}
    for s in partner_subtotals(report.entries):
        subtotals.setdefault(s.partner_key, []).append(s)
    groups: dict[str, list[EntryRow]] = {}
    for e in report.entries:
        groups.setdefault(e.partnership_key, []).append(e)
    return [PartnerGroup(key, rows, subtotals[key]) for key, rows in sorted(groups.items())]


def render_html(report: Report) -> str:
    template = _environment().get_template(TEMPLATE)
    charts = [build_chart(currency, points) for currency, points in report.monthly.items()]
    groups = partner_groups(report)
    return template.render(
        report=report, charts=charts, statuses=ALL_STATUSES, names=report.names(), links=report.links,
        groups=groups, subtotals=[s for g in groups for s in g.subtotals], loud=loud_findings(report.findings),
    )


def write_html(report: Report, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(report), encoding="utf-8")
    return output
