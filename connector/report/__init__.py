"""The finance reconciliation report of a run, and the per-partner statement and leaderboard.

Formats: table (Rich), json, csv (`<section>.csv` files in a zip, or a directory; one file
with a `section` column when the output path ends in `.csv`), xlsx, html (self-contained).
"""

from connector.report.build import RunNotFound, build_report, restrict_to_partner
from connector.report.jsonfmt import render_json, report_dict
from connector.report.leaderboard import (
    LeaderboardRow,
    Quarter,
    leaderboard,
    leaderboard_dicts,
    leaderboard_table,
    render_leaderboard_json,
    render_leaderboard_table,
)
from connector.report.model import Check, CurrencyTotals, EntryRow, Report
from connector.report.render import FORMATS, default_filename, render_report, summary_table, write_report
from connector.report.statement import PartnerNotFound, partner_statement
from connector.report.table import render_table, summary_of

__all__ = [
    "FORMATS",
    "Check",
    "CurrencyTotals",
    "EntryRow",
    "LeaderboardRow",
    "PartnerNotFound",
    "Quarter",
    "Report",
    "RunNotFound",
    "build_report",
    "default_filename",
    "leaderboard",
    "leaderboard_dicts",
    "leaderboard_table",
    "partner_statement",
    "render_json",
    "render_leaderboard_json",
    "render_leaderboard_table",
    "render_report",
    "render_table",
    "report_dict",
    "restrict_to_partner",
    "summary_of",
    "summary_table",
    "write_report",
]
