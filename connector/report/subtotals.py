"""Per-partner subtotals: the currency totals of each partner's own entries.

Why: finance pays partners, not currencies; a partner's line answers "what do we owe Ada"
before anyone reads her entries. Each subtotal is `compute_totals` over that partner's entries,
so the partners' subtotals of a currency add up to the report's total of it by construction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from connector.report.checks import compute_totals
from connector.report.model import CurrencyTotals, EntryRow


@dataclass(frozen=True)
class PartnerSubtotal:
    partner_key: str
    currency: str
    totals: CurrencyTotals


def partner_subtotals(entries: list[EntryRow]) -> list[PartnerSubtotal]:
    """One row per (partner, currency) with entries, by partner key then currency."""
    by_partner: dict[str, list[EntryRow]] = defaultdict(list)
    for e in entries:
        by_partner[e.partnership_key].append(e)
    return [
        PartnerSubtotal(partner, currency, totals)
        for partner in sorted(by_partner)
        for currency, totals in compute_totals(by_partner[partner]).items()
    ]
