"""A partner's statement: the run's report cut down to one partner.

It is a `Report` (with `partner_key` set), so every renderer — table, JSON, CSV,
XLSX, HTML — prints it, with that partner's own totals and tie-outs.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.report.build import build_report, partner_row, restrict_to_partner, session_scope
from connector.report.model import Report
from connector.store.models import Partner


class PartnerNotFound(LookupError):
    """No partner with that key, and nothing in the ledger or decisions names it."""


def partner_statement(session_or_engine: Session | Engine, partner_key: str, run_id: str | None = None) -> Report:
    with session_scope(session_or_engine) as session:
        statement = restrict_to_partner(build_report(session, run_id), partner_key)
        if not statement.partners:
            partner = session.get(Partner, partner_key)
            if partner is not None:
                statement.partners.append(partner_row(partner))
    if not statement.partners and not statement.entries and not statement.submissions:
        raise PartnerNotFound(f"no partner {partner_key}")
    return statement
