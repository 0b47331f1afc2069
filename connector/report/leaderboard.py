"""The quarterly leaderboard the tech-consultant program promises: top partners by
successful referrals in the quarter, then by commission.

A successful referral is a `qualified` decision; it counts in the quarter its
contract was signed (the deal's `close_date`; for other submissions the submission
time). Its commission is the sum of the ledger entries for that referral.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector.money import format_money
from connector.report.build import session_scope
from connector.store.models import Deal, Decision, LedgerEntry, Partner, Run

_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, 3 * self.number - 2, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: periods are half-open."""
        if self.number == 4:
            return dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC)
        return dt.datetime(self.year, 3 * self.number + 1, 1, tzinfo=dt.UTC)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text)
        if match is None:
            raise ValueError(f"quarter must look like 2026-Q1, not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, moment: dt.datetime) -> Quarter:
        moment = moment.astimezone(dt.UTC)
        return cls(moment.year, (moment.month - 1) // 3 + 1)


@dataclass
class LeaderboardRow:
    rank: int
    partner_key: str
    partner_name: str | None
    referrals: int
    commission_minor: dict[str, int] = field(default_factory=dict)  # commission + clawback, per currency
    bonus_minor: dict[str, int] = field(default_factory=dict)
    referral_keys: list[str] = field(default_factory=list)


def _latest_as_of(session: Session, program: str) -> dt.datetime:
    as_of = session.scalars(
        select(Run.as_of).where(Run.program == program).order_by(Run.started_at.desc()).limit(1)
    ).first()
    return as_of or dt.datetime.now(dt.UTC)


def _signed(session: Session, program: str) -> list[tuple[Decision, dt.datetime]]:
    """Qualified referrals with the time each was signed (the deal's close date, else the submission time)."""
    decisions = session.scalars(
        select(Decision).where(Decision.program == program, Decision.decision == "qualified")
    ).all()
    close_dates = {
        d.key: d.close_date
        for d in session.scalars(select(Deal).where(Deal.key.in_([d.submission_key for d in decisions])))
    } if decisions else {}
    signed = ((d, close_dates.get(d.submission_key) or d.submitted_at) for d in decisions)
    return [(d, when) for d, when in signed if d.partnership_key and when is not None]


def latest_quarter_with_referrals(
    session_or_engine: Session | Engine, program: str, until: dt.datetime | None = None
) -> Quarter | None:
    """The latest quarter, up to `until` (default: the latest run's as-of time), in which some
    referral was signed; None when none was. Why: the quarter of "now" is often still empty, and
    an empty leaderboard by default tells finance nothing."""
    with session_scope(session_or_engine) as session:
        limit = until or _latest_as_of(session, program)
        times = [when for _, when in _signed(session, program) if when < limit]
    return Quarter.containing(max(times)) if times else None


def _referrals_in(session: Session, program: str, period: Quarter) -> dict[str, list[Decision]]:
    """Each partner's qualified referrals signed in `period`."""
    referrals: dict[str, list[Decision]] = defaultdict(list)
    for d, signed in _signed(session, program):
        if d.partnership_key and period.start <= signed < period.end:
            referrals[d.partnership_key].append(d)
    return referrals


def _partner_names(session: Session, keys: list[str]) -> dict[str, str | None]:
    return {
        p.key: p.company_name or " ".join(x for x in (p.first_name, p.last_name) if x) or None
        for p in session.scalars(select(Partner).where(Partner.key.in_(keys)))
    }


def _row(partner_key: str, name: str | None, mine: list[Decision], entries: Sequence[LedgerEntry]) -> LeaderboardRow:
    """One partner's unranked row: its referrals and the ledger entries booked for them."""
    subjects = {d.submission_key for d in mine} | {d.customer_key for d in mine if d.customer_key}
    row = LeaderboardRow(0, partner_key, name, len(mine), referral_keys=sorted(d.submission_key for d in mine))
    for e in entries:
        if e.partnership_key != partner_key or e.customer_key not in subjects:
            continue
        bucket = row.bonus_minor if e.kind == "bonus" else row.commission_minor
        bucket[e.currency] = bucket.get(e.currency, 0) + int(e.amount_minor)
    return row


def _main_currency(rows: list[LeaderboardRow]) -> str | None:
    """The currency with the most commission (by absolute amount): the one ties are broken in."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        for currency, amount in row.commission_minor.items():
            totals[currency] += abs(amount)
    return max(sorted(totals), key=lambda c: totals[c]) if totals else None


def _rank(rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    """Sorted by referrals, then commission in the main currency; equal scores share a rank."""
    main = _main_currency(rows)

    def score(r: LeaderboardRow) -> tuple[int, int]:
        return (r.referrals, r.commission_minor.get(main, 0) if main else 0)

    rows.sort(key=lambda r: (-score(r)[0], -score(r)[1], r.partner_key))
    for i, row in enumerate(rows):
        row.rank = rows[i - 1].rank if i and score(rows[i - 1]) == score(row) else i + 1
    return rows


def leaderboard(session_or_engine: Session | Engine, program: str, quarter: str | None = None) -> list[LeaderboardRow]:
    """Ranked rows (ties share a rank); `quarter` like "2026-Q2", None = the latest run's."""
    with session_scope(session_or_engine) as session:
        period = Quarter.parse(quarter) if quarter else Quarter.containing(_latest_as_of(session, program))
        referrals = _referrals_in(session, program, period)
        if not referrals:
            return []
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.program == program, LedgerEntry.partnership_key.in_(list(referrals)))
        ).all()
        names = _partner_names(session, list(referrals))
    return _rank([_row(key, names.get(key), mine, entries) for key, mine in referrals.items()])


def _money_list(amounts: dict[str, int]) -> str:
    return ", ".join(format_money(v, c) for c, v in sorted(amounts.items())) or "—"


def leaderboard_table(rows: list[LeaderboardRow], title: str = "Leaderboard", limit: int | None = None) -> Table:
    table = Table(title=title)
    for column in ("rank", "partner", "name", "referrals", "commission", "bonus"):
        table.add_column(column, justify="right" if column in ("rank", "referrals") else "left")
    for r in rows[:limit]:
        table.add_row(str(r.rank), r.partner_key, r.partner_name or "", str(r.referrals),
                      _money_list(r.commission_minor), _money_list(r.bonus_minor))
    return table


def render_leaderboard_table(
    rows: list[LeaderboardRow], title: str = "Leaderboard", limit: int | None = None, message: str | None = None
) -> str:
    """The ranked table, or `message` (why it is empty) instead of an empty one."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=140, color_system=None)
    if rows or message is None:
        console.print(leaderboard_table(rows, title, limit))
    if message:
        console.print(message if rows else f"{title}: {message}", highlight=False)
    return buffer.getvalue()


def leaderboard_dicts(rows: list[LeaderboardRow]) -> list[dict[str, Any]]:
    return [
        {
            "rank": r.rank,
            "partner_key": r.partner_key,
            "partner_name": r.partner_name,
            "referrals": r.referrals,
            "commission_minor": dict(sorted(r.commission_minor.items())),
            "bonus_minor": dict(sorted(r.bonus_minor.items())),
            "referral_keys": r.referral_keys,
        }
        for r in rows
    ]


def render_leaderboard_json(
    rows: list[LeaderboardRow], program: str | None = None, quarter: str | None = None, message: str | None = None
) -> str:
    body: dict[str, Any] = {"program": program, "quarter": quarter, "rows": leaderboard_dicts(rows)}
    if message:
        body["message"] = message
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
