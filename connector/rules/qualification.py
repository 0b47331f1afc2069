"""Which referrals exist and whether each qualifies: `qualified`, `rejected` (a code) or `open`.

The checks run in the order of programs.md's table and the first that fails names the
reason, so a duplicate that never converted is still `duplicate_lead`. Duplicates are
judged against every earlier submission whatever its own decision, earliest first
(ties: the lower key), which makes the outcome independent of the order records arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from connector.rules.facts import Facts
from connector.rules.identity import company_domain, normalise_company_name
from connector.rules.program import Program
from connector.rules.records import DealRecord, LeadRecord, PartnerRecord, ReferralRecord

SubmissionType = Literal["lead", "customer", "deal"]
Outcome = Literal["qualified", "rejected", "open"]
_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Submission:
    """What the rules need of a submission, and nothing of the rows it came from: a pass holds one per
    lead, PartnerStack customer and deal for its whole length, so it keeps keys and a few values, not
    the lead and customer rows (slots: no per-instance dict either). The partner and deal are
    references to records the pass holds anyway."""

    key: str
    type: SubmissionType
    submitted_at: dt.datetime | None
    partner: PartnerRecord | None
    customer_key: str | None  # PartnerStack customer key (deal key for deals)
    referral_key: str | None  # the PartnerStack customer record's key, if any
    test: bool  # that record is a test record
    billing_customer_id: str | None  # Stripe cus_…
    domain: str | None
    company_name: str | None  # normalised
    consent: bool | None
    deal: DealRecord | None = None

    @property
    def order(self) -> tuple[dt.datetime, str]:
        return (self.submitted_at or _FAR_FUTURE, self.key)

    def identifiers(self) -> list[tuple[str, str]]:
        ids = [("billing", self.billing_customer_id), ("domain", self.domain), ("name", self.company_name)]
        return [(kind, value) for kind, value in ids if value]


@dataclass(frozen=True, slots=True)
class Verdict:
    submission: Submission
    decision: Outcome
    reason: str | None


def _partner(facts: Facts, *refs: str | None) -> PartnerRecord | None:
    for ref in refs:
        if ref and (found := facts.partners.get(ref) or facts.partners_by_ref.get(ref)):
            return found
    return None


def build_submissions(facts: Facts, program: Program) -> list[Submission]:
    """Leads; PartnerStack customers no lead points at; deals — as the program lists them."""
    sources = program.submissions.sources
    referral_by_customer_key = {r.customer_key: r for r in facts.referrals if r.customer_key}
    out: list[Submission] = []
    pointed_at: set[str] = set()
    for lead in facts.leads:
        referral = referral_by_customer_key.get(lead.external_key) if lead.external_key else None
        if referral is not None:
            pointed_at.add(referral.key)
        if "leads" in sources:
            out.append(_lead_submission(facts, program, lead, referral))
    if "customers" in sources:
        out.extend(_customer_submission(facts, program, ref) for ref in facts.referrals if ref.key not in pointed_at)
    if "deals" in sources:
        referral_by_provider = {r.provider_key: r for r in facts.referrals if r.provider_key}
        for deal in facts.deals:
            linked = referral_by_provider.get(deal.external_key) if deal.external_key else None
            out.append(_deal_submission(facts, deal, linked))
    return sorted(out, key=lambda s: s.order)


def _lead_submission(facts: Facts, program: Program, lead: LeadRecord, referral: ReferralRecord | None) -> Submission:
    """A lead, with the PartnerStack customer it points at (its billing customer, whether a test)."""
    q = program.qualification
    return Submission(
        key=lead.key,
        type="lead",
        submitted_at=lead.created_at,
        partner=_partner(facts, lead.partner_key),
        customer_key=referral.key if referral else None,
        referral_key=referral.key if referral else None,
        test=bool(referral is not None and referral.test),
        billing_customer_id=referral.provider_key if referral else None,
        # fields.email's domain, else fields.domain (also when the e-mail is free-mail)
        domain=company_domain(lead.email, q.extra_free_mail_domains)
        or company_domain(lead.domain, q.extra_free_mail_domains),
        company_name=normalise_company_name(lead.company_name, q.extra_legal_suffixes),
        consent=lead.consent,
    )


def _customer_submission(facts: Facts, program: Program, ref: ReferralRecord) -> Submission:
    """A PartnerStack customer no lead points at: a submission of its own."""
    q = program.qualification
    return Submission(
        key=ref.key,
        type="customer",
        submitted_at=ref.created_at,
        partner=_partner(facts, ref.partnership_key, ref.partner_key),
        customer_key=ref.key,
        referral_key=ref.key,
        test=bool(ref.test),
        billing_customer_id=ref.provider_key,
        domain=company_domain(ref.email, q.extra_free_mail_domains),
        company_name=normalise_company_name(ref.name, q.extra_legal_suffixes),
        consent=None,
    )


def _deal_submission(facts: Facts, deal: DealRecord, linked: ReferralRecord | None) -> Submission:
    """A deal, with the PartnerStack customer of its billing customer if there is one (whether a test)."""
    return Submission(
        key=deal.key,
        type="deal",
        submitted_at=deal.created_at,
        partner=_partner(facts, deal.partner_key),
        customer_key=deal.key,
        referral_key=linked.key if linked else None,
        test=bool(linked is not None and linked.test),
        billing_customer_id=deal.external_key,
        domain=None,
        company_name=None,
        consent=None,
        deal=deal,
    )


def deal_won(deal: DealRecord, program: Program, as_of: dt.datetime) -> bool:
    stage = (deal.stage or "").strip().casefold()
    signed = deal.close_date or deal.created_at
    return stage == program.submissions.won_stage.casefold() and (signed is None or signed <= as_of)


def _converted(sub: Submission, program: Program, facts: Facts) -> bool:
    if sub.deal is not None:
        return deal_won(sub.deal, program, facts.as_of)
    return sub.billing_customer_id is not None


def _existing_customer(sub: Submission, facts: Facts) -> bool:
    if sub.billing_customer_id is None or sub.submitted_at is None:
        return False
    first_paid_at = facts.first_paid_at(sub.billing_customer_id)
    return first_paid_at is not None and first_paid_at < sub.submitted_at


def _self_referral(sub: Submission, program: Program) -> bool:
    partner = sub.partner
    if partner is None:
        return False
    q = program.qualification
    own_domain = company_domain(partner.email, q.extra_free_mail_domains)
    own_name = normalise_company_name(partner.company_name, q.extra_legal_suffixes)
    return bool((own_domain and sub.domain == own_domain) or (own_name and sub.company_name == own_name))


def _window_expired(sub: Submission, program: Program) -> bool:
    """Only deals carry a signing date (close_date); exactly the limit is inside.

    By default counted in calendar days (UTC dates): a deal created on 1 Jan at 15:00 and
    signed on 2 Mar at any time was signed 60 days after submission, not "60 days and some
    hours"; `contract_window_counting = "elapsed"` counts the exact time instead.
    """
    days = program.qualification.contract_window_days
    deal = sub.deal
    if days is None or deal is None or deal.close_date is None or deal.created_at is None:
        return False
    if program.qualification.contract_window_counting == "elapsed":
        return deal.close_date - deal.created_at > dt.timedelta(days=days)
    return (_utc_date(deal.close_date) - _utc_date(deal.created_at)).days > days


def _utc_date(at: dt.datetime) -> dt.date:
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()


def qualify(submissions: list[Submission], facts: Facts, program: Program) -> list[Verdict]:
    """One verdict per submission; `submissions` must be in submission order."""
    seen: set[tuple[str, str]] = set()
    verdicts: list[Verdict] = []
    for sub in sorted(submissions, key=lambda s: s.order):
        ids = sub.identifiers()
        duplicate = any(i in seen for i in ids)
        seen.update(ids)
        decision, reason = _judge(sub, duplicate, facts, program)
        verdicts.append(Verdict(sub, decision, reason))
    return verdicts


def _judge(sub: Submission, duplicate: bool, facts: Facts, program: Program) -> tuple[Outcome, str | None]:
    """The checks in programs.md's order: the first that fails names the outcome and its reason."""
    rules = program.qualification.rules
    if "test_record" in rules and sub.test:
        return "rejected", "test_record"
    if sub.partner is None:
        return "open", "partner_unknown"  # the partnership may arrive on a later pull
    eligible = program.qualification.eligible_referrer_relationships
    if "partner_not_eligible" in rules and (sub.partner.referrer_relationship or "") not in eligible:
        return "rejected", "partner_not_eligible"
    if "no_consent" in rules and sub.type != "deal" and sub.consent is not True:
        return "rejected", "no_consent"
    if "existing_customer" in rules and _existing_customer(sub, facts):
        return "rejected", "existing_customer"
    if "self_referral" in rules and _self_referral(sub, program):
        return "rejected", "self_referral"
    if "duplicate_lead" in rules and duplicate:
        return "rejected", "duplicate_lead"
    converted = _converted(sub, program, facts)
    if "contract_window_expired" in rules and converted and _window_expired(sub, program):
        return "rejected", "contract_window_expired"
    if not converted:
        return "open", "not_converted"
    return "qualified", None
