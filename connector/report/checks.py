"""Totals per currency and the tie-outs finance reads before it trusts a run.

Each check states the arithmetic in words with its numbers, so a failing one says
what does not add up instead of just "mismatch".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

from connector.money import commission_of, format_money, minor_exponent
from connector.report.model import OPEN_STATUSES, Check, CurrencyTotals, EntryRow, MonthPoint

RATED_KINDS = ("commission", "clawback")


def compute_totals(entries: Iterable[EntryRow]) -> dict[str, CurrencyTotals]:
    totals: dict[str, CurrencyTotals] = {}
    for e in entries:
        t = totals.setdefault(e.currency, CurrencyTotals(currency=e.currency))
        t.entries += 1
        t.total_minor += e.amount_minor
        if e.kind in RATED_KINDS:
            t.commission_minor += e.amount_minor
            t.net_revenue_minor += e.basis_minor
        if e.kind == "clawback":
            t.clawback_minor += e.amount_minor
        elif e.kind == "bonus":
            t.bonus_minor += e.amount_minor
        bucket = f"{e.status}_minor"
        if e.status in (*OPEN_STATUSES, "reversed"):
            setattr(t, bucket, getattr(t, bucket) + e.amount_minor)
    return dict(sorted(totals.items()))


def _is_capped(entry: EntryRow) -> bool:
    """A clawback cut short so the customer's total stops at zero (programs.md): it may
    be smaller than basis × rate, never larger and never of the other sign."""
    expected = commission_of(entry.basis_minor, entry.rate)
    return "cap" in (entry.reason or "") and expected <= entry.amount_minor <= 0


def _group_mismatches(entries: list[EntryRow]) -> list[str]:
    """Entries of one group sum to round(Σ basis × rate): a correction entry carries the
    difference, so checking the group (not each correction) avoids double rounding."""
    by_group: dict[str, list[EntryRow]] = defaultdict(list)
    for e in entries:
        if e.kind in RATED_KINDS and not _is_capped(e):
            by_group[e.group_key].append(e)
    problems: list[str] = []
    for _group_key, group in sorted(by_group.items()):
        if len({Decimal(e.rate) for e in group}) == 1:
            problems.extend(_group_mismatch(group))
        else:
            problems.extend(_entry_mismatches(group))
    return problems


def _group_mismatch(group: list[EntryRow]) -> list[str]:
    """A group at one rate: its amounts sum to the rounding of its summed basis."""
    expected = commission_of(sum(e.basis_minor for e in group), group[0].rate)
    actual = sum(e.amount_minor for e in group)
    if expected == actual:
        return []
    keys = ", ".join(e.entry_key for e in group)
    return [f"{keys}: amount {actual} ≠ round(basis × {group[0].rate}) = {expected}"]


def _entry_mismatches(group: list[EntryRow]) -> list[str]:
    """A group whose rate changed: each entry is checked on its own."""
    problems: list[str] = []
    for e in group:
        expected = commission_of(e.basis_minor, e.rate)
        if expected != e.amount_minor:
            problems.append(f"{e.entry_key}: amount {e.amount_minor} ≠ round({e.basis_minor} × {e.rate}) = {expected}")
    return problems


def exact_major(minor: Decimal, exponent: int) -> str:
    """An exact minor-unit Decimal in major units, keeping any sub-minor digits."""
    value = minor.scaleb(-exponent)
    at_minor = value.quantize(Decimal(1).scaleb(-exponent))
    return f"{at_minor if value == at_minor else value.normalize():,f}"


def _rate_check(currency: str, entries: list[EntryRow], totals: CurrencyTotals) -> Check:
    rated = [e for e in entries if e.kind in RATED_KINDS]
    exact = sum(
        (Decimal(e.amount_minor) if _is_capped(e) else Decimal(e.basis_minor) * Decimal(e.rate) for e in rated),
        Decimal(0),
    )
    rounding_room = Decimal(len(rated)) / 2
    difference = Decimal(totals.commission_minor) - exact
    rates = sorted({e.rate for e in rated}, key=Decimal)
    exponent = minor_exponent(currency)
    unit = currency.upper()
    statement = (
        f"net revenue {format_money(totals.net_revenue_minor, currency)} × rate ({', '.join(rates) or 'none'}) "
        f"= {exact_major(exact, exponent)} {unit}; commission {format_money(totals.commission_minor, currency)} "
        f"(difference {exact_major(difference, exponent)} {unit}, "
        f"at most {exact_major(rounding_room, exponent)} {unit} from per-entry rounding)"
    )
    return Check("net_revenue_times_rate", currency, statement, abs(difference) <= rounding_room)


def _amount_check(currency: str, entries: list[EntryRow], totals: CurrencyTotals) -> Check:
    problems = _group_mismatches(entries)
    rated = len([e for e in entries if e.kind in RATED_KINDS])
    return Check(
        "entry_amount_is_basis_times_rate",
        currency,
        f"every commission and clawback amount = round_half_up(basis × rate) per entry group "
        f"({rated} entries; capped clawbacks may be smaller)",
        not problems,
        tuple(problems),
    )


def _statuses_check(currency: str, entries: list[EntryRow], t: CurrencyTotals) -> Check:
    def m(amount: int) -> str:
        return format_money(amount, currency)

    status_sum = t.scheduled_minor + t.held_minor + t.payable_minor + t.pushed_minor
    unknown = sorted({e.status for e in entries} - {*OPEN_STATUSES, "reversed"})
    return Check(
        "statuses_add_up",
        currency,
        f"pushed {m(t.pushed_minor)} + held {m(t.held_minor)} + scheduled {m(t.scheduled_minor)} "
        f"+ payable {m(t.payable_minor)} = {m(status_sum)}; total {m(t.total_minor)}",
        status_sum == t.total_minor and not unknown,
        tuple(f"unknown status {s}" for s in unknown),
    )


def _reversed_check(currency: str, entries: list[EntryRow], totals: CurrencyTotals) -> Check:
    reversed_sums: dict[tuple[str, str | None], int] = defaultdict(int)
    for e in entries:
        if e.status == "reversed":
            reversed_sums[(e.partnership_key, e.customer_key)] += e.amount_minor
    by_partner_and_customer = sorted(reversed_sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    unbalanced = tuple(f"{p}/{c}: reversed entries sum to {s}" for (p, c), s in by_partner_and_customer if s != 0)
    return Check(
        "reversed_pairs_sum_to_zero",
        currency,
        f"reversed entries sum to {format_money(totals.reversed_minor, currency)} "
        "(0 expected, per partner and customer)",
        not unbalanced and totals.reversed_minor == 0,
        unbalanced,
    )


def _every_entry_of_status(
    currency: str, entries: list[EntryRow], *, name: str, status: str, has: Callable[[EntryRow], object], claim: str
) -> Check:
    """Every entry of `status` satisfies `has`; the exceptions are the keys of those that do not."""
    lacking = tuple(e.entry_key for e in entries if e.status == status and not has(e))
    count = sum(1 for e in entries if e.status == status)
    return Check(name, currency, f"{count} {status} entries all {claim}", not lacking, lacking)


def _pushed_check(currency: str, entries: list[EntryRow], totals: CurrencyTotals) -> Check:
    return _every_entry_of_status(
        currency, entries, name="pushed_entries_have_reward_key", status="pushed",
        has=lambda e: e.platform_reward_key, claim="carry the platform's reward key",
    )


def _held_check(currency: str, entries: list[EntryRow], totals: CurrencyTotals) -> Check:
    return _every_entry_of_status(
        currency, entries, name="held_entries_name_their_gate", status="held",
        has=lambda e: e.reason, claim="name the gate that holds them",
    )


# Every tie-out of one currency, in the order the report lists them.
_CHECKS: tuple[Callable[[str, list[EntryRow], CurrencyTotals], Check], ...] = (
    _amount_check,
    _rate_check,
    _statuses_check,
    _reversed_check,
    _pushed_check,
    _held_check,
)


def compute_checks(entries: list[EntryRow], totals: dict[str, CurrencyTotals]) -> list[Check]:
    checks: list[Check] = []
    for currency, t in totals.items():
        mine = [e for e in entries if e.currency == currency]
        checks.extend(check(currency, mine, t) for check in _CHECKS)
    return checks


def monthly_commission(entries: Iterable[EntryRow]) -> dict[str, list[MonthPoint]]:
    """Sum of entry amounts by month of `event_at`, per currency, with empty months filled."""
    sums: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for e in entries:
        if e.event_at is not None:
            sums[e.currency][(e.event_at.year, e.event_at.month)] += e.amount_minor
    out: dict[str, list[MonthPoint]] = {}
    for currency in sorted(sums):
        months = sums[currency]
        (year, month), last = min(months), max(months)
        points: list[MonthPoint] = []
        while (year, month) <= last:
            points.append(MonthPoint(f"{year:04d}-{month:02d}", months.get((year, month), 0)))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        out[currency] = points
    return out
