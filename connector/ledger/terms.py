"""Terms at first booking (programs.md "Changes after the fact", Consio tiers): the partner group a
customer's rate and period come from is the partner's group when that customer's first entry is
booked, recorded in `customer_terms`; a partner moved to another group later keeps those terms for
the customers already booked, and the new group applies to customers booked after the move.

Read per batch of customers into `Facts.terms` (the rules use it through `kinds.terms_group`) and
written, for the customers booked for the first time, by the pass that books them: a full pass
and an incremental one book a customer first in the same run, so they record the same terms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from connector.rules.desired import DesiredEntry
from connector.rules.reads.sql import in_lists
from connector.rules.records import PartnerRecord
from connector.store.models import CustomerTerms

Pair = tuple[str, str | None]  # (partnership key, customer key)


def recorded(session: Session, program: str, customer_keys: Collection[str | None]) -> dict[Pair, str | None]:
    """The recorded group of every (partnership, customer) of these customers."""
    out: dict[Pair, str | None] = {}
    keys = sorted(k or "" for k in customer_keys)
    for chunk in in_lists(keys):
        stmt = select(CustomerTerms.partnership_key, CustomerTerms.customer_key, CustomerTerms.group_slug).where(
            CustomerTerms.program == program, CustomerTerms.customer_key.in_(chunk)
        )
        for partner, customer, slug in session.execute(stmt).all():
            out[(partner, customer or None)] = slug
    return out


def record(
    session: Session, program: str, known: Mapping[Pair, str | None], entries: Iterable[DesiredEntry],
    partners: Mapping[str, PartnerRecord], run_id: str, as_of: dt.datetime,
) -> int:  # fmt: skip
    """Record the partner's group now for each customer with entries and no terms yet; how many."""
    rows: dict[Pair, dict[str, object]] = {}
    for e in entries:
        pair = (e.partnership_key, e.customer_key)
        if pair in known or pair in rows:
            continue
        partner = partners.get(e.partnership_key)
        rows[pair] = {
            "program": program, "partnership_key": e.partnership_key, "customer_key": e.customer_key or "",
            "group_slug": partner.group_slug if partner else None, "run_id": run_id, "recorded_at": as_of,
        }  # fmt: skip
    if rows:
        session.execute(insert(CustomerTerms), list(rows.values()))
    return len(rows)
