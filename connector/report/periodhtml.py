"""A period's roll-forward as one self-contained, print-friendly HTML page.

The run report's conventions (`connector.report.html`): names beside keys, keys that open the
PartnerStack partner or the Stripe dashboard and wrap only at their separators, dates as dates,
a print stylesheet (A4 landscape, the table header repeated on every page). Like the workbook it
renders the period's JSON body, so a closed month's page shows the kept figures; nothing on it
reads the clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connector.money import format_money
from connector.report.html import _environment
from connector.report.periodview import FIGURES, Extras, instant, title
from connector.report.rollforward import CLOSING_STATES

TEMPLATE = "period.html.j2"


def render_period_html(body: dict[str, Any], extras: Extras) -> str:
    env = _environment()
    env.filters["instant"] = instant
    template = env.get_template(TEMPLATE)
    return template.render(body=body, title=title(body), names=extras.names, links=extras.links,
                           notes=extras.notes, sources=extras.sources, figures=FIGURES, states=shown_states(body),
                           money=format_money)  # fmt: skip


def shown_states(body: dict[str, Any]) -> list[str]:
    """The statuses some closing balance of the period has money in: a page of seven mostly-zero
    columns does not fit a printed page (the workbook keeps all seven, as numbers to filter)."""
    lines = [*body["roll_forward"], *body["partners"]]
    return [s for s in CLOSING_STATES if any(line["closing_by_state_minor"][s] for line in lines)]


def write_period_html(body: dict[str, Any], extras: Extras, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_period_html(body, extras), encoding="utf-8")
    return output
