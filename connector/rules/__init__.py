"""The rules: from pulled records to exactly the money each referral program promises.

Pure functions over the facts read as of a time (`reads/` is where they come from, and the
only part of the rules that touches the store): who qualifies and why not, the basis and
rate of each entry, the gates that hold payment. They book nothing themselves:
`connector.ledger.compute` runs them and appends the result.
"""

from connector.rules.desired import DesiredEntry, Note, Placement, PlacementPolicy, group_key, note_text
from connector.rules.facts import EVERYTHING, Facts, Needs, earliest, turns_at, visible
from connector.rules.gates import GatePolicy, application_complete, is_entity, partner_gate, required_tax_form
from connector.rules.identity import company_domain, email_domain, normalise_company_name
from connector.rules.kinds import KindOutput, RuleFinding, desired_entries, floor_at_zero
from connector.rules.netrevenue import Adjustment, adjustments, earning_share, invoice_basis
from connector.rules.program import Program, bundled_program_path, load_program, resolve_program_path
from connector.rules.qualification import Candidate, Submission, Verdict, build_submissions, deal_won, qualify
from connector.rules.records import (
    CreditNoteRecord,
    DealRecord,
    DisputeRecord,
    InvoiceLineRecord,
    InvoiceRecord,
    LeadRecord,
    MarketingCostRecord,
    PartnerRecord,
    PriceRecord,
    ProductRecord,
    ReferralRecord,
    RefundRecord,
    SubscriptionItemRecord,
    SubscriptionRecord,
)
from connector.rules.schedule import add_months, at_midnight, end_of_month_after

__all__ = [
    "EVERYTHING",
    "Adjustment",
    "Candidate",
    "CreditNoteRecord",
    "DealRecord",
    "DesiredEntry",
    "DisputeRecord",
    "Facts",
    "GatePolicy",
    "InvoiceLineRecord",
    "InvoiceRecord",
    "KindOutput",
    "LeadRecord",
    "MarketingCostRecord",
    "Needs",
    "Note",
    "PartnerRecord",
    "Placement",
    "PlacementPolicy",
    "PriceRecord",
    "ProductRecord",
    "Program",
    "ReferralRecord",
    "RefundRecord",
    "RuleFinding",
    "Submission",
    "SubscriptionItemRecord",
    "SubscriptionRecord",
    "Verdict",
    "add_months",
    "adjustments",
    "application_complete",
    "at_midnight",
    "build_submissions",
    "bundled_program_path",
    "company_domain",
    "deal_won",
    "desired_entries",
    "earliest",
    "earning_share",
    "email_domain",
    "end_of_month_after",
    "floor_at_zero",
    "group_key",
    "invoice_basis",
    "is_entity",
    "load_program",
    "normalise_company_name",
    "note_text",
    "partner_gate",
    "qualify",
    "required_tax_form",
    "resolve_program_path",
    "turns_at",
    "visible",
]
