"""HTML: one self-contained, print-friendly page (inline CSS and SVG, nothing fetched)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape

from connector.money import format_money, iso_utc
from connector.report.chart import build_chart
from connector.report.model import ALL_STATUSES, Report

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
    return env


def render_html(report: Report) -> str:
    template = _environment().get_template(TEMPLATE)
    charts = [build_chart(currency, points) for currency, points in report.monthly.items()]
    return template.render(report=report, charts=charts, statuses=ALL_STATUSES)


def write_html(report: Report, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(report), encoding="utf-8")
    return output
