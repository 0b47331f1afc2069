"""Which referrals exist and whether each qualifies: `qualified`, `rejected` (a code) or `open`.

The checks run in the order of programs.md's table and the first that fails names the
reason, so a duplicate that never converted is still `duplicate_lead`. Duplicates are
judged against every earlier submission whatever its own decision, earliest first
(ties: the lower key), which makes the outcome independent of the order records arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
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
    """What a pass keeps of a submission once it is judged: what the decision rows, booking and the
    incremental scope read. Keys and a few values, not the rows it came from (slots: no per-instance
    dict either); the partner and deal are references to records the pass holds anyway.

    Not what only qualification reads (`Candidate`): the company's domain and normalised name, the
    consent and test flags. A pass holds one of these per lead, PartnerStack customer and deal for
    its whole length, so those were some 160 bytes a submission held only to be judged once."""

    key: str
    type: SubmissionType
    submitted_at: dt.datetime | None
    partner: PartnerRecord | None
    customer_key: str | None  # PartnerStack customer key (deal key for deals)
    referral_key: str | None  # the PartnerStack customer record's key, if any
    billing_customer_id: str | None  # Stripe cus_…
    deal: DealRecord | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A submission as qualification judges it: `Submission`'s fields and the ones only the checks read."""

    key: str
    type: SubmissionType
    submitted_at: dt.datetime | None
    partner: PartnerRecord | None
    customer_key: str | None
    referral_key: str | None
    test: bool  # that record is a test record
    billing_customer_id: str | None
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

    def submission(self) -> Submission:
        return Submission(
            self.key, self.type, self.submitted_at, self.partner, self.customer_key, self.referral_key,
            self.billing_customer_id, self.deal,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdict:
    submission: Submission
    decision: Outcome
    reason: str | None
    earlier: str | None = None  # a duplicate's earliest submission sharing one of its identifiers


def _partner(facts: Facts, *refs: str | None) -> PartnerRecord | None:
    for ref in refs:
        if ref and (found := facts.partners.get(ref) or facts.partners_by_ref.get(ref)):
            return found
    return None


def build_submissions(facts: Facts, program: Program) -> list[Candidate]:
    """Leads; PartnerStack customers no lead points at; deals — as the program lists them, in submission order.

    The PartnerStack customers and the leads are each read once, as the store streams them. Each
    customer becomes its candidate as it is read, and what a lead pointing at it or a deal linked to
    it needs of it (its key, billing customer, whether a test) is on that candidate: the customer rows
    (some 700 bytes each with their e-mails and names) are never all held beside the candidates.
    """
    sources = program.submissions.sources
    customers: list[Candidate] = []
    by_customer_key: dict[str, Candidate] = {}  # the last customer of a key, as a lead finds it
    by_provider: dict[str, Candidate] = {}  # the last customer of a billing customer, as a deal finds it
    for ref in facts.referrals:
        customer = _customer_submission(facts, program, ref)
        customers.append(customer)
        if ref.customer_key:
            by_customer_key[ref.customer_key] = customer
        if ref.provider_key:
            by_provider[ref.provider_key] = customer
    out: list[Candidate] = []
    pointed_at: set[str] = set()
    for lead in facts.leads:
        referral = by_customer_key.get(lead.external_key) if lead.external_key else None
        if referral is not None:
            pointed_at.add(referral.key)
        if "leads" in sources:
            out.append(_lead_submission(facts, program, lead, referral))
    del by_customer_key
    if "customers" in sources:
        out.extend(c for c in customers if c.key not in pointed_at)
    del customers, pointed_at
    if "deals" in sources:
        for deal in facts.deals:
            linked = by_provider.get(deal.external_key) if deal.external_key else None
            out.append(_deal_submission(facts, deal, linked))
    return sorted(out, key=lambda s: s.order)


Unlinked = tuple[int, Candidate, str | None, str | None, int | None]
"""A candidate as first read, before the PartnerStack customer it points at is found: (group: 0 lead,
1 PartnerStack customer, 2 deal; the candidate; what finds its customer: a lead's or deal's external key,
a customer's own customer key; a customer's billing customer, as a deal finds it; a deal's index in
`facts.deals`). Empty keys are None: they find nothing."""


def unlinked_candidates(facts: Facts, program: Program) -> Iterator[Unlinked]:
    """What `build_submissions` reads, in the same order, one candidate at a time and without linking them:
    every PartnerStack customer (whether or not a lead points at it, and whatever the sources: leads and
    deals find theirs among them), every lead, and the deals the program lists. A compute pass links and
    orders them in the database (`connector.ledger.passverdicts`) exactly as `build_submissions` does."""
    for ref in facts.referrals:
        yield 1, _customer_submission(facts, program, ref), ref.customer_key or None, ref.provider_key or None, None
    for lead in facts.leads:
        yield 0, _lead_submission(facts, program, lead, None), lead.external_key or None, None, None
    if "deals" in program.submissions.sources:
        for n, deal in enumerate(facts.deals):
            yield 2, _deal_submission(facts, deal, None), deal.external_key or None, None, n


def _lead_submission(facts: Facts, program: Program, lead: LeadRecord, referral: Candidate | None) -> Candidate:
    """A lead, with the PartnerStack customer it points at (its billing customer, whether a test)."""
    q = program.qualification
    return Candidate(
        key=lead.key,
        type="lead",
        submitted_at=lead.created_at,
        partner=_partner(facts, lead.partner_key),
        customer_key=referral.key if referral else None,
        referral_key=referral.key if referral else None,
        test=bool(referral is not None and referral.test),
        billing_customer_id=referral.billing_customer_id if referral else None,
        # fields.email's domain, else fields.domain (also when the e-mail is free-mail)
        domain=company_domain(lead.email, q.extra_free_mail_domains)
        or company_domain(lead.domain, q.extra_free_mail_domains),
        company_name=normalise_company_name(lead.company_name, q.extra_legal_suffixes),
        consent=lead.consent,
    )


def _customer_submission(facts: Facts, program: Program, ref: ReferralRecord) -> Candidate:
    """A PartnerStack customer: a submission of its own when no lead points at it."""
    q = program.qualification
    return Candidate(
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


def _deal_submission(facts: Facts, deal: DealRecord, linked: Candidate | None) -> Candidate:
    """A deal, with the PartnerStack customer of its billing customer if there is one (whether a test)."""
    return Candidate(
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


def _converted(sub: Candidate, program: Program, facts: Facts) -> bool:
    if sub.deal is not None:
        return deal_won(sub.deal, program, facts.as_of)
    return sub.billing_customer_id is not None


def _existing_customer(sub: Candidate, facts: Facts) -> bool:
    if sub.billing_customer_id is None or sub.submitted_at is None:
        return False
    first_paid_at = facts.first_paid_at(sub.billing_customer_id)
    return first_paid_at is not None and first_paid_at < sub.submitted_at


def _self_referral(sub: Candidate, program: Program) -> bool:
    partner = sub.partner
    if partner is None:
        return False
    q = program.qualification
    own_domain = company_domain(partner.email, q.extra_free_mail_domains)
    own_name = normalise_company_name(partner.company_name, q.extra_legal_suffixes)
    return bool((own_domain and sub.domain == own_domain) or (own_name and sub.company_name == own_name))


def _window_expired(sub: Candidate, program: Program) -> bool:
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


def qualify(candidates: Iterable[Candidate], facts: Facts, program: Program) -> list[Verdict]:
    """One verdict per candidate; they must come in submission order (`build_submissions`'s).

    Taken one at a time, so a caller that hands them over as it drops them (`compute`) holds each
    candidate's identifiers only in the index of their first holders, never every candidate at once.
    That index, per kind of identifier (no tuple per entry), names each identifier's earliest
    submission by its position: a duplicate is a candidate with an identifier already there, and
    its `earlier` is the earliest of those holders (the one its take-back says earns instead).
    """
    first: dict[str, dict[str, int]] = {"billing": {}, "domain": {}, "name": {}}
    verdicts: list[Verdict] = []
    previous: tuple[dt.datetime, str] | None = None
    for sub in candidates:
        if previous is not None and sub.order < previous:
            raise ValueError(f"{sub.key} comes before {previous[1]} in submission order")
        previous = sub.order
        here = len(verdicts)
        held = [at for kind, value in sub.identifiers() if (at := first[kind].setdefault(value, here)) < here]
        verdicts.append(judge(sub, verdicts[min(held)].submission.key if held else None, facts, program))
    return verdicts


def judge(sub: Candidate, first_holder: str | None, facts: Facts, program: Program) -> Verdict:
    """One candidate's verdict, given the earliest earlier submission sharing one of its identifiers
    (None: it shares none with an earlier one). `qualify` finds that holder in memory; a compute pass
    finds it in the database (`connector.ledger.passverdicts`) and hands the candidates over in the
    same order."""
    decision, reason = _judge(sub, first_holder is not None, facts, program)
    return Verdict(sub.submission(), decision, reason, first_holder if reason == "duplicate_lead" else None)


def _judge(sub: Candidate, duplicate: bool, facts: Facts, program: Program) -> tuple[Outcome, str | None]:
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
