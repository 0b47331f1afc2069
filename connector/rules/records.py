"""The records the rules read, one type per mirror table: its canonical columns as read, nothing more.

Plain named tuples, not ORM instances: a pass reads hundreds of thousands of them and only
reads them (no identity map, no change tracking), and a named tuple answers an attribute
several times faster than a database row does. The redacted `raw` payload and the change
stamp stay in the database. Each field is the column attribute of the same name in
`connector.store.models` (`connector.rules.reads.facts` selects the columns by these names).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple


class PartnerRecord(NamedTuple):
    """A PartnerStack partnership with its application: what qualification and the gates check."""

    key: str  # the partnership key (part_…)
    partner_key: str | None  # the referral key leads and customers name
    email: str | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    group_slug: str | None
    country: str | None
    company_website: str | None
    city: str | None
    business_type: str | None
    team_size: str | None
    number_of_clients: str | None
    referrer_relationship: str | None
    tax_form: str | None
    tax_id_present: bool
    tax_id_last4: str | None
    tax_id_fingerprint: str | None
    bank_kind: str | None
    bank_last4: str | None
    bank_fingerprint: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class LeadRecord(NamedTuple):
    key: str
    partner_key: str | None  # the referral key (or the partnership key) of the partner who submitted it
    external_key: str | None
    status: str | None
    company_name: str | None
    email: str | None
    domain: str | None
    consent: bool | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class ReferralRecord(NamedTuple):
    """A PartnerStack customer: the platform's link from a partner to a billing customer."""

    key: str  # cust_…
    customer_key: str | None
    partnership_key: str | None
    partner_key: str | None  # the referral key
    provider_key: str | None  # Stripe cus_…
    email: str | None
    name: str | None
    test: bool
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class DealRecord(NamedTuple):
    key: str
    partner_key: str | None  # the referral key (or the partnership key) of the partner who registered it
    external_key: str | None  # Stripe customer id
    name: str | None
    stage: str | None
    amount: int | None
    currency: str
    close_date: dt.datetime | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class ProductRecord(NamedTuple):
    id: str
    name: str | None
    category: str | None
    unit_cost: int | None
    created: dt.datetime | None


class PriceRecord(NamedTuple):
    id: str
    product_id: str | None
    currency: str | None
    unit_amount: int | None
    type: str | None
    interval: str | None
    interval_count: int | None
    created: dt.datetime | None


class SubscriptionRecord(NamedTuple):
    id: str
    customer_id: str | None
    status: str | None
    currency: str | None
    start_date: dt.datetime | None
    created: dt.datetime | None
    term_months: int | None
    canceled_at: dt.datetime | None = None


class SubscriptionItemRecord(NamedTuple):
    id: str
    subscription_id: str
    price_id: str | None
    product_id: str | None
    quantity: int
    unit_amount: int | None
    currency: str | None
    price_type: str | None
    interval: str | None
    interval_count: int | None


class InvoiceRecord(NamedTuple):
    """The invoice columns the rules read, all of them in the index `ix_st_invoices_compute`
    (see `connector.rules.reads.facts.INVOICE_COLUMNS`)."""

    id: str
    customer_id: str | None
    currency: str
    status: str | None
    created: dt.datetime | None
    due_date: dt.datetime | None
    paid_at: dt.datetime | None
    amount_paid: int
    amount_remaining: int
    tax: int


class InvoiceLineRecord(NamedTuple):
    id: str
    invoice_id: str
    amount: int
    currency: str | None
    quantity: int | None
    price_id: str | None
    product_id: str | None
    description: str | None


class CreditNoteRecord(NamedTuple):
    id: str
    invoice_id: str | None
    customer_id: str | None
    currency: str
    type: str | None  # pre_payment | post_payment | mixed
    status: str | None
    total: int
    total_excluding_tax: int
    post_payment_amount: int | None
    refund_ids: list[str]
    created: dt.datetime | None


class _PaymentEvent(NamedTuple):
    """A refund or dispute: it names a payment (intent or charge), not an invoice."""

    id: str
    payment_intent: str | None
    charge: str | None
    amount: int
    currency: str
    status: str | None
    created: dt.datetime | None


class RefundRecord(_PaymentEvent):
    __slots__ = ()


class DisputeRecord(_PaymentEvent):
    __slots__ = ()


class MarketingCostRecord(NamedTuple):
    """A row of finance's cost file."""

    id: str
    customer_id: str
    date: dt.datetime
    amount: int
    currency: str
    note: str | None
