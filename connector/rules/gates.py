"""Payout gates: a computed reward is *held*, not rejected, while one fails.

Checked in programs.md's order; the first that fails is the reason. They are
re-evaluated every run, so a partner who uploads the missing W-8BEN gets paid on the
next run without anyone touching the ledger.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence

from connector.rules.desired import Placement
from connector.rules.facts import UNPAID_STATUSES, Facts
from connector.rules.program import Program
from connector.rules.ratekeys import RATE_UNKNOWN
from connector.rules.records import PartnerRecord

UPSTREAM_QUARANTINED = "upstream_quarantined"  # a quarantined record feeds the entry (`rules.invariants`)

# an account number with its routing number, or an IBAN ("account_only" lacks the routing number)
BANK_DETAILS_COMPLETE = ("account", "iban")


def is_entity(partner: PartnerRecord) -> bool:
    """An entity has a company name, a website, or a business type other than individual."""
    business = (partner.business_type or "").strip().casefold()
    return bool(partner.company_name or partner.company_website or (business and business != "individual"))


def _form(value: str | None) -> str:
    return re.sub(r"[^A-Z0-9]", "", (value or "").upper())


def required_tax_form(partner: PartnerRecord) -> str | None:
    """W-9 for US partners, W-8BEN-E for non-US entities, W-8BEN for non-US individuals."""
    country = (partner.country or "").strip().upper()
    if not country:
        return None
    if country in ("US", "USA"):
        return "W-9"
    return "W-8BEN-E" if is_entity(partner) else "W-8BEN"


def tax_form_ok(partner: PartnerRecord) -> bool:
    needed = required_tax_form(partner)
    return needed is not None and _form(partner.tax_form) == _form(needed) and bool(partner.tax_id_present)


def application_complete(partner: PartnerRecord, required: list[str]) -> bool:
    for name in required:
        if name == "company_website" and not is_entity(partner):
            continue
        value = getattr(partner, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            return False
    return True


def partner_gate(program: Program, partner: PartnerRecord | None) -> str | None:
    """The first failing partner gate, or None."""
    if partner is None:
        return None
    for rule in program.gates.rules:
        if rule == "tax_form_missing" and not tax_form_ok(partner):
            return rule
        if rule == "bank_details_missing" and partner.bank_kind not in BANK_DETAILS_COMPLETE:
            return rule
        if rule == "application_incomplete" and not application_complete(
            partner, program.gates.required_application_fields
        ):
            return rule
    return None


def past_due(facts: Facts, billing_customer_id: str) -> bool:
    """An invoice still unpaid at the as-of time (open or uncollectible, or paid only later) whose due date
    has passed; a voided one is not owed any more."""
    for inv in facts.invoices_by_customer.get(billing_customer_id, []):
        open_then = inv.status in UNPAID_STATUSES or (inv.status == "paid" and not facts.is_paid(inv))
        if open_then and inv.due_date is not None and inv.due_date < facts.as_of:
            return True
    return False


OPEN_DISPUTE_STATUSES = frozenset({"warning_needs_response", "warning_under_review", "needs_response", "under_review"})
"""Stripe's dispute statuses before a decision (programs.md `dispute_open`); `won`, `lost`,
`warning_closed` and `prevented` are closed."""


def disputed(facts: Facts, invoice_id: str) -> bool:
    """The invoice has a dispute visible at the as-of time that is still open.

    A dispute's status is the one stored now (Stripe keeps no status history): a backdated run sees
    today's decision. A dispute created after the as-of time does not exist yet (`Facts`)."""
    return any(d.status in OPEN_DISPUTE_STATUSES for d in facts.disputes_of(invoice_id))


class GatePolicy:
    """Where an open entry belongs now: scheduled, held (gate code) or payable."""

    def __init__(
        self,
        program: Program,
        facts: Facts,
        billing_of_customer: Mapping[str, str],
        partner_gates: dict[str, str | None] | None = None,
        held_billing: Collection[str] = (),
        held_partnerships: Collection[str] = (),
    ) -> None:
        """`partner_gates` is a memo of `partner_gate` by partner key that a pass shares across its
        batches: a partner's gate depends on the partner alone, and judging every partner again for
        every batch cost partners x batches calls (5 M at L).

        `held_billing` and `held_partnerships` are what unresolved quarantine rows feed (see
        `connector.rules.invariants`): their entries are held `upstream_quarantined` before any
        other gate, since what they would pay is not known."""
        self._held_billing = held_billing
        self._held_partnerships = held_partnerships
        self.program = program
        self.facts = facts
        self.as_of = facts.as_of
        self._partner_gate = {} if partner_gates is None else partner_gates
        self._billing = billing_of_customer
        self._past_due: dict[str, bool] = {}
        self._dispute_gate = "dispute_open" in program.gates.rules

    def customer_gate(self, customer_key: str | None) -> str | None:
        if "customer_past_due" not in self.program.gates.rules or customer_key is None:
            return None
        billing = self._billing.get(customer_key)
        if billing is None:
            return None
        if billing not in self._past_due:
            self._past_due[billing] = past_due(self.facts, billing)
        return "customer_past_due" if self._past_due[billing] else None

    def partner_gate(self, partnership_key: str) -> str | None:
        if partnership_key not in self._partner_gate:
            self._partner_gate[partnership_key] = partner_gate(self.program, self.facts.partners.get(partnership_key))
        return self._partner_gate[partnership_key]

    def dispute_gate(self, sources: Sequence[str]) -> str | None:
        """`dispute_open`: the entry names a paid invoice with an open dispute (its commission, and every
        adjustment that follows it, name the invoice). Entries naming no invoice (a subscription's
        one-off reward, a deal's) are never held by it."""
        if not self._dispute_gate:
            return None
        for source in sources:
            if source in self.facts.invoices and disputed(self.facts, source):
                return "dispute_open"
        return None

    def upstream_gate(self, partnership_key: str, customer_key: str | None) -> str | None:
        """`upstream_quarantined`: a record the entry's partner or customer depends on is quarantined."""
        if partnership_key in self._held_partnerships:
            return UPSTREAM_QUARANTINED
        billing = self._billing.get(customer_key) if customer_key is not None else None
        if billing is not None and billing in self._held_billing:
            return UPSTREAM_QUARANTINED
        return None

    def gate(self, partnership_key: str, customer_key: str | None, sources: Sequence[str] = ()) -> str | None:
        """The first failing gate: a quarantined upstream record (what is owed is not known), then
        programs.md's order: partner gates, past due, open dispute."""
        return (
            self.upstream_gate(partnership_key, customer_key)
            or self.partner_gate(partnership_key)
            or self.customer_gate(customer_key)
            or self.dispute_gate(sources)
        )

    def __call__(
        self,
        partnership_key: str,
        customer_key: str | None,
        payable_at: dt.datetime | None,
        pending: str | None,
        sources: Sequence[str] = (),
    ) -> Placement:
        if pending == RATE_UNKNOWN:  # programs.md: after the gates, held until the program names a rate
            return Placement("held", self.gate(partnership_key, customer_key, sources) or RATE_UNKNOWN)
        if payable_at is None and pending:
            return Placement("scheduled", pending)
        if payable_at is not None and payable_at > self.as_of:
            return Placement("scheduled", "payable_after")
        gate = self.gate(partnership_key, customer_key, sources)
        return Placement("held", gate) if gate else Placement("payable", None)
