"""The report of one run as plain typed data, independent of any output format.

`build.py` fills it from the store; each renderer only reads it. Keeping the
numbers (and the tie-out checks) here means the table, JSON, CSV, XLSX and HTML
forms can never disagree with each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector.ledger.entries import EntryRow as EntryRow  # the ledger's own row type, shown as read
from connector.report.readable import CustomerRow, Links, Names, as_date

# Entry statuses that together make up a currency's total (reversed pairs sum to 0).
OPEN_STATUSES = ("scheduled", "held", "payable", "pushed")
ALL_STATUSES = (*OPEN_STATUSES, "reversed")


@dataclass(frozen=True)
class RunInfo:
    id: str
    kind: str
    program: str | None
    as_of: dt.datetime | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    error: str | None


@dataclass(frozen=True)
class StreamRow:
    stream: str
    pulled: int
    quarantined: int
    pages: int
    requests: int
    retries: int


@dataclass(frozen=True)
class SubmissionRow:
    submission_key: str
    submission_type: str
    partnership_key: str | None  # the JSON form names it `partner_key`
    customer_key: str | None
    decision: str
    reason: str | None
    submitted_at: dt.datetime | None
    run_id: str | None


@dataclass(frozen=True)
class QuarantineRow:
    source: str
    id: str | None
    error: str
    created_at: dt.datetime


@dataclass(frozen=True)
class FindingRow:
    program: str | None
    subject_key: str | None
    code: str
    detail: str | None


@dataclass(frozen=True)
class PartnerRow:
    """What a report may say about a partner: never more than the last four of bank or tax id."""

    key: str
    name: str | None
    group_slug: str | None
    country: str | None
    tax_form: str | None
    tax_id_last4: str | None
    bank_kind: str | None
    bank_last4: str | None


@dataclass
class CurrencyTotals:
    """Sums of one currency. `commission_minor` is commission + clawback entries (what
    net revenue × rate yields); `total_minor` adds bonuses and equals the status sums."""

    currency: str
    net_revenue_minor: int = 0
    commission_minor: int = 0
    bonus_minor: int = 0
    clawback_minor: int = 0
    total_minor: int = 0
    scheduled_minor: int = 0
    held_minor: int = 0
    payable_minor: int = 0
    pushed_minor: int = 0
    reversed_minor: int = 0
    entries: int = 0


@dataclass
class PayoutTotals:
    """Sums of the payouts in one reward currency (`connector.report.payouts`): what the platform is paid,
    whatever currency each entry was billed in."""

    currency: str
    total_minor: int = 0
    payable_minor: int = 0
    pushed_minor: int = 0
    entries: int = 0
    converted: int = 0  # entries in another currency, converted at finance's rate


@dataclass(frozen=True)
class Check:
    """One tie-out, stated in words with the numbers, and whether it holds."""

    name: str
    currency: str | None
    statement: str
    holds: bool
    exceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class MonthPoint:
    month: str  # YYYY-MM
    amount_minor: int


@dataclass(frozen=True)
class AuditRow:
    """One row of the payout approval audit (`payout_audit`): a batch built, approved, rejected, stale, pushed."""

    at: dt.datetime
    batch_id: str
    action: str
    actor: str | None
    note: str | None
    run_id: str | None
    detail: str  # compact JSON: totals, approvals so far, what changed


@dataclass
class Report:
    run: RunInfo
    streams: list[StreamRow] = field(default_factory=list)
    submissions: list[SubmissionRow] = field(default_factory=list)
    entries: list[EntryRow] = field(default_factory=list)
    quarantined: list[QuarantineRow] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    partners: list[PartnerRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    totals: dict[str, CurrencyTotals] = field(default_factory=dict)
    payout_totals: dict[str, PayoutTotals] = field(default_factory=dict)  # per payout currency
    checks: list[Check] = field(default_factory=list)
    monthly: dict[str, list[MonthPoint]] = field(default_factory=dict)  # per currency
    partner_key: str | None = None  # set when the report is one partner's statement
    payout_audit: list[AuditRow] = field(default_factory=list)  # approval before push (connector.report.audit)
    customers: list[CustomerRow] = field(default_factory=list)  # names of the customers it shows
    links: Links = field(default_factory=Links)  # where keys open ([report] settings)

    @property
    def pulled(self) -> dict[str, int]:
        return {s.stream: s.pulled for s in self.streams}

    @property
    def held_entries(self) -> list[EntryRow]:
        return [e for e in self.entries if e.status == "held"]

    @property
    def pushed_entries(self) -> list[EntryRow]:
        return [e for e in self.entries if e.status == "pushed"]

    @property
    def all_checks_hold(self) -> bool:
        return all(c.holds for c in self.checks)

    def names(self) -> Names:
        """Names by key for the renderers (build once per rendering, look up per row)."""
        return Names(
            partners={p.key: p.name for p in self.partners if p.name},
            customers={c.key: c.name for c in self.customers if c.name},
            customer_stripe_ids={c.key: c.stripe_id for c in self.customers if c.stripe_id},
        )

    @property
    def entry_dates(self) -> tuple[str, str] | None:
        """The first and last event date of its entries: the period a statement covers."""
        dates = sorted(e.event_at for e in self.entries if e.event_at is not None)
        return (as_date(dates[0]), as_date(dates[-1])) if dates else None

    @property
    def title(self) -> str:
        program = self.run.program or "all programs"
        if self.partner_key:
            name = next((p.name for p in self.partners if p.key == self.partner_key and p.name), None)
            who = f"{name} ({self.partner_key})" if name else self.partner_key
            return f"Partner statement · {who} · {program}"
        return f"Reconciliation report · {program} · run {self.run.id}"
