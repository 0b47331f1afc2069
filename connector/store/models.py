"""The connector's own records: canonical upstream data, sync bookkeeping and the ledger.

Every table that mirrors an upstream object is keyed by that object's source id, so a
re-read upserts instead of duplicating. Money is always a BigInteger in minor units
next to a lower-case currency column; rates are decimal strings. Sensitive values
(tax ids, bank numbers) never get a column: only presence, last four characters and
a keyed fingerprint do.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, PostgreSQL would shift it."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


ENTRY_KEY_LENGTH = 200
"""The longest ledger entry key the store holds (and so the longest a reward's marker can name)."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        int: Integer(),
        str: String(255),
        Decimal: String(40),
    }


class Tracked:
    """A mirror table the rules read: `changed_seq` is the change-clock tick at which the row was
    inserted or its content last changed (`connector.store.writes.upsert_rows` sets it; an identical
    re-read leaves it alone). Incremental compute recomputes only the customers such rows name.
    NULL (a row written some other way) counts as changed."""

    changed_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)


def money() -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False, default=0)


def money_opt() -> Mapped[int | None]:
    return mapped_column(BigInteger, nullable=True)


# ---------------------------------------------------------------- PartnerStack


class Group(Base):
    __tablename__ = "ps_groups"
    key: Mapped[str] = mapped_column(primary_key=True)
    slug: Mapped[str | None]
    name: Mapped[str | None]
    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]


class Partner(Tracked, Base):
    """A PartnerStack partnership with its application: what the gates check."""

    __tablename__ = "ps_partners"
    key: Mapped[str] = mapped_column(primary_key=True)  # part_…: the partnership key entries and decisions name
    partner_key: Mapped[str | None] = mapped_column(index=True)  # the referral key (leads and customers name it)
    email: Mapped[str | None]
    first_name: Mapped[str | None]
    last_name: Mapped[str | None]
    company_name: Mapped[str | None]
    group_slug: Mapped[str | None]
    country: Mapped[str | None] = mapped_column(String(8))
    company_website: Mapped[str | None]
    city: Mapped[str | None]
    business_type: Mapped[str | None]
    team_size: Mapped[str | None]
    number_of_clients: Mapped[str | None]
    referrer_relationship: Mapped[str | None]
    tax_form: Mapped[str | None] = mapped_column(String(16))
    tax_id_present: Mapped[bool] = mapped_column(Boolean, default=False)
    tax_id_last4: Mapped[str | None] = mapped_column(String(4))
    tax_id_fingerprint: Mapped[str | None] = mapped_column(String(64))
    bank_kind: Mapped[str | None] = mapped_column(String(16))  # "account" (+ routing) | "account_only" | "iban" | None
    bank_last4: Mapped[str | None] = mapped_column(String(4))
    bank_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # redacted payload


class Lead(Tracked, Base):
    __tablename__ = "ps_leads"
    key: Mapped[str] = mapped_column(primary_key=True)
    partner_key: Mapped[str | None] = mapped_column(index=True)
    external_key: Mapped[str | None] = mapped_column(index=True)
    status: Mapped[str | None]
    company_name: Mapped[str | None]
    email: Mapped[str | None]
    domain: Mapped[str | None]
    consent: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Deal(Tracked, Base):
    __tablename__ = "ps_deals"
    key: Mapped[str] = mapped_column(primary_key=True)
    partner_key: Mapped[str | None] = mapped_column(index=True)
    external_key: Mapped[str | None] = mapped_column(index=True)  # Stripe customer id
    name: Mapped[str | None]
    stage: Mapped[str | None]
    amount: Mapped[int | None] = money_opt()
    currency: Mapped[str] = mapped_column(String(3), default="usd")
    close_date: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Referral(Tracked, Base):
    """A PartnerStack customer: the platform's link from a partner to a billing customer."""

    __tablename__ = "ps_customers"
    key: Mapped[str] = mapped_column(primary_key=True)  # cust_…
    customer_key: Mapped[str | None] = mapped_column(index=True)
    partnership_key: Mapped[str | None] = mapped_column(index=True)
    partner_key: Mapped[str | None]
    provider_key: Mapped[str | None] = mapped_column(index=True)  # Stripe cus_…
    email: Mapped[str | None]
    name: Mapped[str | None]
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PlatformReward(Base):
    """A reward as PartnerStack lists it, mirrored by pull (the trailing `rewards` stream) so the store
    holds what the platform says it owes next to what the ledger pushed.

    After a crash push asks the platform live which rewards exist (`connector.push.outbox`), since a
    mirror can be a pull behind; it reads this table to adopt rewards no entry records and to read
    each reward's status back. `partner_key` is the column as the platform names it.

    `changed_seq` is the change-clock tick at which the row was inserted or its content last changed,
    as on the rules' mirror tables (`Tracked`; the rules do not read this one): the push reads back
    only the rewards stamped since it last did (`connector.push.marks`). NULL counts as changed.
    """

    __tablename__ = "ps_rewards"
    key: Mapped[str] = mapped_column(primary_key=True)
    partner_key: Mapped[str | None]
    customer_key: Mapped[str | None]
    amount: Mapped[int | None] = money_opt()
    currency: Mapped[str | None] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    external_key: Mapped[str | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime | None]
    reward_status: Mapped[str | None] = mapped_column(String(16))
    payment_status: Mapped[str | None] = mapped_column(String(32))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changed_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)


class RewardMarker(Base):
    """An entry a mirrored reward's description names by its marker `[entry:<entry_key>]`, one row per
    (entry, reward): the index by which push finds, for the entries in its outbox, a reward the
    platform already has (`adapters.partnerstack.rewards.find_mirrored`) without reading every
    reward's description. Kept by push from the rewards stamped since its last pass (`push_marks`),
    rebuilt from all of them when it has no mark; derived, never a source of truth.
    """

    __tablename__ = "ps_reward_markers"
    entry_key: Mapped[str] = mapped_column(String(ENTRY_KEY_LENGTH), primary_key=True)
    reward_key: Mapped[str] = mapped_column(primary_key=True, index=True)


class Transaction(Base):
    __tablename__ = "ps_transactions"
    key: Mapped[str] = mapped_column(primary_key=True)
    customer_key: Mapped[str | None]
    amount: Mapped[int | None] = money_opt()
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# ---------------------------------------------------------------- Stripe


class Product(Tracked, Base):
    __tablename__ = "st_products"
    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str | None]
    category: Mapped[str | None]
    unit_cost: Mapped[int | None] = money_opt()  # minor units per unit, from metadata
    created: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Price(Tracked, Base):
    __tablename__ = "st_prices"
    id: Mapped[str] = mapped_column(primary_key=True)
    product_id: Mapped[str | None] = mapped_column(index=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    unit_amount: Mapped[int | None] = money_opt()
    type: Mapped[str | None] = mapped_column(String(16))  # recurring | one_time
    interval: Mapped[str | None] = mapped_column(String(8))
    interval_count: Mapped[int | None]
    created: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BillingCustomer(Base):
    __tablename__ = "st_customers"
    id: Mapped[str] = mapped_column(primary_key=True)
    email: Mapped[str | None]
    name: Mapped[str | None]
    created: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Subscription(Tracked, Base):
    __tablename__ = "st_subscriptions"
    id: Mapped[str] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(index=True)
    status: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    start_date: Mapped[dt.datetime | None]
    created: Mapped[dt.datetime | None]
    term_months: Mapped[int | None]
    canceled_at: Mapped[dt.datetime | None]  # when it was cancelled (a one-off reward before payable is void)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SubscriptionItem(Tracked, Base):
    __tablename__ = "st_subscription_items"
    id: Mapped[str] = mapped_column(primary_key=True)
    subscription_id: Mapped[str] = mapped_column(index=True)
    price_id: Mapped[str | None]
    product_id: Mapped[str | None]
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_amount: Mapped[int | None] = money_opt()
    currency: Mapped[str | None] = mapped_column(String(3))
    price_type: Mapped[str | None] = mapped_column(String(16))
    interval: Mapped[str | None] = mapped_column(String(8))
    interval_count: Mapped[int | None]


class Invoice(Tracked, Base):
    __tablename__ = "st_invoices"
    id: Mapped[str] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(index=True)
    subscription_id: Mapped[str | None]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str | None] = mapped_column(String(16))
    created: Mapped[dt.datetime | None]
    due_date: Mapped[dt.datetime | None]
    paid_at: Mapped[dt.datetime | None]
    amount_due: Mapped[int] = money()
    amount_paid: Mapped[int] = money()
    amount_remaining: Mapped[int] = money()
    subtotal: Mapped[int | None] = money_opt()
    total: Mapped[int | None] = money_opt()
    tax: Mapped[int] = money()  # sum of total_taxes[].amount
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# compute reads invoices from this index alone: the first-purchase aggregate (customer, status, amount_paid,
# paid_at, created) and each batch's invoices (every column connector.rules.reads.facts.INVOICE_COLUMNS names). An
# invoice row carries its raw payload (a page or so), so reading the table reads every page of it.
Index(
    "ix_st_invoices_compute", Invoice.customer_id, Invoice.status, Invoice.amount_paid, Invoice.paid_at,
    Invoice.created, Invoice.id, Invoice.currency, Invoice.due_date, Invoice.amount_remaining, Invoice.tax,
)  # fmt: skip


class InvoiceLine(Tracked, Base):
    __tablename__ = "st_invoice_lines"
    id: Mapped[str] = mapped_column(primary_key=True)
    invoice_id: Mapped[str] = mapped_column(index=True)
    amount: Mapped[int] = money()
    currency: Mapped[str | None] = mapped_column(String(3))
    quantity: Mapped[int | None]
    price_id: Mapped[str | None]
    product_id: Mapped[str | None]
    description: Mapped[str | None] = mapped_column(Text)


class CreditNote(Tracked, Base):
    __tablename__ = "st_credit_notes"
    id: Mapped[str] = mapped_column(primary_key=True)
    invoice_id: Mapped[str | None] = mapped_column(index=True)
    customer_id: Mapped[str | None]
    currency: Mapped[str] = mapped_column(String(3))
    type: Mapped[str | None] = mapped_column(String(16))  # pre_payment | post_payment | mixed
    status: Mapped[str | None] = mapped_column(String(16))
    total: Mapped[int] = money()
    total_excluding_tax: Mapped[int] = money()
    post_payment_amount: Mapped[int | None] = money_opt()
    refund_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Refund(Tracked, Base):
    __tablename__ = "st_refunds"
    id: Mapped[str] = mapped_column(primary_key=True)
    payment_intent: Mapped[str | None] = mapped_column(index=True)
    charge: Mapped[str | None] = mapped_column(index=True)  # compute finds payment events by charge
    amount: Mapped[int] = money()
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str | None] = mapped_column(String(16))
    created: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Dispute(Tracked, Base):
    __tablename__ = "st_disputes"
    id: Mapped[str] = mapped_column(primary_key=True)
    payment_intent: Mapped[str | None] = mapped_column(index=True)
    charge: Mapped[str | None] = mapped_column(index=True)  # compute finds payment events by charge
    amount: Mapped[int] = money()
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str | None] = mapped_column(String(32))
    created: Mapped[dt.datetime | None]
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InvoicePayment(Tracked, Base):
    __tablename__ = "st_invoice_payments"
    id: Mapped[str] = mapped_column(primary_key=True)
    invoice_id: Mapped[str | None] = mapped_column(index=True)
    payment_intent: Mapped[str | None] = mapped_column(index=True)
    charge: Mapped[str | None] = mapped_column(index=True)  # compute finds payment events by charge
    amount_paid: Mapped[int | None] = money_opt()
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str | None] = mapped_column(String(16))
    created: Mapped[dt.datetime | None]


# ---------------------------------------------------------------- finance


class MarketingCost(Tracked, Base):
    """A row of finance's cost file; the id is a digest of the row so re-reads upsert."""

    __tablename__ = "fin_marketing_costs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(index=True)
    date: Mapped[dt.datetime]
    amount: Mapped[int] = money()
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------- sync bookkeeping


class SyncCursor(Base):
    """Where a stream's incremental read stands; committed with the page it follows."""

    __tablename__ = "sync_cursors"
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime | None]


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # sync | backfill | demo
    program: Mapped[str | None] = mapped_column(String(64))
    as_of: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)


class RunStreamStat(Base):
    __tablename__ = "run_stream_stats"
    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    pulled: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)


class Quarantine(Base):
    """A record that failed validation, kept with its reason so nothing is silently lost."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    source: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str | None]
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # redacted
    created_at: Mapped[dt.datetime]
    reason: Mapped[str | None] = mapped_column(String(64))  # a code (`connector.rules.invariants`), or None: see error
    # what the record feeds, so the entries it could change are held `upstream_quarantined` until it resolves
    customer_id: Mapped[str | None]  # the billing (Stripe) customer
    partner_key: Mapped[str | None]  # the partner's referral or partnership key (a deal's)
    changed_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)  # the change clock at insert/resolve
    resolved_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    resolved_run_id: Mapped[str | None] = mapped_column(String(36))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # retries of a parked record
    last_attempt_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_quarantine_source_id", "source", "source_id"),)


class RunLock(Base):
    """One run at a time on SQLite (PostgreSQL uses an advisory lock instead)."""

    __tablename__ = "run_lock"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime]


class PushMark(Base):
    """Where one of push's passes over the mirrored rewards left off (`connector.push.marks`): the
    change-clock tick it had read up to, so the next pass reads only rewards stamped since. One row
    per pass (`markers`, `readback:<program>`); a missing row makes the pass read every reward."""

    __tablename__ = "push_marks"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    mark: Mapped[int] = mapped_column(BigInteger)


class RunLease(Base):
    """The fencing token of the run that holds the run lock (`connector.run.fence`).

    One row per lock name, never deleted: each run that takes the lock adds one to `token`, and
    every write that moves money or cursors checks, in its own transaction, that the token is
    still its own. A run that lost its lock (a PostgreSQL session ended, a SQLite lease expired
    while it was frozen) can then no longer commit anything.
    """

    __tablename__ = "run_lease"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str | None] = mapped_column(String(64))  # None: released
    taken_at: Mapped[dt.datetime | None]


# ---------------------------------------------------------------- rules and ledger


class Decision(Base):
    """The current qualification of a submission under a program."""

    __tablename__ = "decisions"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    submission_key: Mapped[str] = mapped_column(primary_key=True)
    submission_type: Mapped[str] = mapped_column(String(16))  # lead | deal | customer
    partnership_key: Mapped[str | None] = mapped_column("partner_key")  # part_… (the column keeps its name)
    customer_key: Mapped[str | None]
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime | None]
    run_id: Mapped[str | None] = mapped_column(String(36))


class LedgerEntry(Base):
    """Append-only: amounts never change; only status (and push bookkeeping) moves forward.

    `group_key` is the deterministic key of what the entry pays for (program, partnership,
    customer, source event). A recompute that finds a different amount for a group
    appends a correction entry with the difference; the entries of a group sum to the
    amount the program promises.
    """

    __tablename__ = "ledger_entries"
    entry_key: Mapped[str] = mapped_column(String(ENTRY_KEY_LENGTH), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(200), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    program: Mapped[str] = mapped_column(String(64))
    partnership_key: Mapped[str] = mapped_column("partner_key")  # part_… (the column keeps its name)
    customer_key: Mapped[str | None]
    kind: Mapped[str] = mapped_column(String(16))  # commission | bonus | clawback
    basis_minor: Mapped[int] = money()
    rate: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = money()
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(64))
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    event_at: Mapped[dt.datetime | None]
    payable_at: Mapped[dt.datetime | None]
    created_run_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime]
    push_state: Mapped[str | None] = mapped_column(String(16))  # None | sending | sent | refused
    push_attempts: Mapped[int] = mapped_column(Integer, default=0)
    platform_reward_key: Mapped[str | None] = mapped_column(index=True)
    pushed_at: Mapped[dt.datetime | None]
    pushed_run_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)
    # What the entry pays in the reward currency (connector.rules.payout): set on every open entry
    # with a rate (rate "1", source "same currency" when it is already in the reward currency);
    # the entry's own amount and currency above never change.
    payout_amount_minor: Mapped[int | None] = money_opt()
    payout_currency: Mapped[str | None] = mapped_column(String(3))
    fx_rate: Mapped[str | None] = mapped_column(String(40))  # Decimal as text
    fx_date: Mapped[dt.date | None] = mapped_column(Date)
    fx_source: Mapped[str | None] = mapped_column(String(200))  # "fx.csv:12" or "same currency"
    # fingerprint of the body the platform refused (push_state = "refused"); a changed body is re-offered
    refused_body: Mapped[str | None] = mapped_column(String(64))
    # the platform's status of the pushed reward, read back: hold|pending|approved|declined|paid|scheduled
    platform_status: Mapped[str | None] = mapped_column(String(16))
    # the platform's message when it refused the reward (push_state = "refused"); `note` stays the arithmetic
    push_error: Mapped[str | None] = mapped_column(Text)


Index("ix_ledger_program_partner", LedgerEntry.program, LedgerEntry.partnership_key)
# compute reconciles the ledger one batch of customers at a time (customer_key IN ...)
Index("ix_ledger_program_customer", LedgerEntry.program, LedgerEntry.customer_key)
# push pages the payable entries in event order by keyset (connector.push.outbox._outbox_pages)
Index("ix_ledger_outbox", LedgerEntry.program, LedgerEntry.status, LedgerEntry.event_at, LedgerEntry.created_at,
      LedgerEntry.entry_key)
# the status read-back finds the pushed entries not read back yet (their reward not mirrored, or a
# crash between the push and the read-back) without reading the rest (connector.push.status)
_UNREAD = (LedgerEntry.platform_reward_key.is_not(None)) & (LedgerEntry.platform_status.is_(None))
Index("ix_ledger_status_unread", LedgerEntry.program, LedgerEntry.entry_key, sqlite_where=_UNREAD,
      postgresql_where=_UNREAD)


class EntryStatusMove(Base):
    """Append-only history of every ledger entry's status: one row when it is booked, one for each
    move after (scheduled → payable → pushed, held and released, reversed, and the platform's
    reward status read back: approved, declined, paid). The entry's current status is its latest
    row; a past run's or period's report reads the statuses as they were then
    (`connector.ledger.history`).

    `at` is the run's as-of (the business clock the rules judged by), `recorded_at` the wall clock.
    `period` is the month (YYYY-MM) the row counts in for the roll-forward: the entry's event month
    for its booking row, the month of `at` for a move, moved to the first open month when that one
    was closed (`period_closes`); `corrects` then names the closed month.
    """

    __tablename__ = "entry_status_history"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    entry_key: Mapped[str] = mapped_column(String(ENTRY_KEY_LENGTH), index=True)
    program: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    platform_status: Mapped[str | None] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(16))  # booked | moved | pushed | platform | backfill
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime]
    period: Mapped[str] = mapped_column(String(7))
    corrects: Mapped[str | None] = mapped_column(String(7))


# the roll-forward reads one program's rows up to a period
Index("ix_entry_status_history_program_period", EntryStatusMove.program, EntryStatusMove.period)


class PeriodClose(Base):
    """A month frozen by `connector close`: its report as rendered then (and its digest), so the
    report rendered again from the history can be shown to be the same, byte for byte."""

    __tablename__ = "period_closes"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[dt.datetime]
    digest: Mapped[str] = mapped_column(String(64))
    rendering: Mapped[str] = mapped_column(Text)


class Finding(Base):
    """Something the rules noticed but could not pay on (e.g. `margin_unknown`), per run."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    program: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str | None]
    code: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------- incremental compute


class ChangeClock(Base):
    """One row: the tick `upsert_rows` stamps on changed mirror rows. Each compute reads tick T and
    moves the clock to T + 1, so it has seen exactly the rows stamped <= T; a counter, not a wall
    clock, so hosts with skewed clocks cannot hide a change."""

    __tablename__ = "change_clock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class MirrorDeparture(Base):
    """What a mirror row named before its content changed: the keys the rules place records by.

    Written by the database itself (triggers of migration 0016) when an update of a mirror row
    changes one of the columns that say whose a record is (an invoice's customer, a payment's invoice,
    payment intent or charge, a refund's or dispute's intent or charge, ...), stamped with the row's
    new `changed_seq`. `changes_since` maps these old keys to customers as it maps the rows' new
    ones: the customer a record left (a refund no longer placed on its invoice) is affected too.
    Rows no compute's mark can still need are deleted (`prune_departures`)."""

    __tablename__ = "mirror_departures"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    changed_seq: Mapped[int | None] = mapped_column(BigInteger, index=True)
    customer_id: Mapped[str | None]
    invoice_id: Mapped[str | None]
    subscription_id: Mapped[str | None]
    payment_intent: Mapped[str | None]
    charge: Mapped[str | None]
    refund_ids: Mapped[list[str] | None] = mapped_column(JSON)


class ComputeState(Base):
    """Where the last successful compute of a program left off: what an incremental run starts from."""

    __tablename__ = "compute_state"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    mark: Mapped[int] = mapped_column(BigInteger)  # change-clock tick the compute saw up to
    as_of: Mapped[dt.datetime]
    digest: Mapped[str] = mapped_column(String(64))  # program file + rules code it computed with
    recheck_at: Mapped[dt.datetime | None]  # when qualification can next change by time alone
    run_id: Mapped[str] = mapped_column(String(36))  # whose findings are the current ones
    computed_at: Mapped[dt.datetime]


class ComputeRecheck(Base):
    """Per customer key (`""` for entries without one): the earliest as-of time at which its entries
    can change by time alone (a due date passing, a scheduled entry falling due, a record becoming
    visible). An incremental run recomputes the customers whose time has come."""

    __tablename__ = "compute_recheck"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_key: Mapped[str] = mapped_column(primary_key=True)
    recheck_at: Mapped[dt.datetime]


Index("ix_compute_recheck_program_at", ComputeRecheck.program, ComputeRecheck.recheck_at)


# ---------------------------------------------------------------- payout approval (issue 18)


class PayoutBatch(Base):
    """What one run would push, frozen for approval (`[push] approval = "required"`).

    Only `status` and `note` move (pending -> approved | rejected | stale; approved -> pushed | stale);
    what was approved is the batch's entries with their fingerprints, and every move is in
    `payout_audit`."""

    __tablename__ = "payout_batches"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    program: Mapped[str] = mapped_column(String(64), index=True)
    run_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime]
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | approved | rejected | stale | pushed
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    payout_currency: Mapped[str] = mapped_column(String(3))
    payout_out_minor: Mapped[int] = money()  # the positive payouts summed: what the threshold compares
    entries: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)


class PayoutBatchEntry(Base):
    """An entry of a batch as it was when the batch was built; `fingerprint` says whether it still is."""

    __tablename__ = "payout_batch_entries"
    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(ENTRY_KEY_LENGTH), primary_key=True, index=True)
    partnership_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = money()
    currency: Mapped[str] = mapped_column(String(3))
    payout_amount_minor: Mapped[int | None] = money_opt()
    payout_currency: Mapped[str | None] = mapped_column(String(3))
    fingerprint: Mapped[str] = mapped_column(String(64))


class PayoutAudit(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): every batch built, approved, rejected,
    made stale or pushed, by whom and when."""

    __tablename__ = "payout_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime]
    program: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(16))  # built | approved | rejected | stale | pushed
    actor: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomerTerms(Base):
    """The partner's group a customer's commission terms (rate, period) were taken from when its first
    entry was booked (programs.md "Changes after the fact", `[commission] terms_at_first_booking`):
    a partner moved to another group later keeps these terms for this customer."""

    __tablename__ = "customer_terms"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    partnership_key: Mapped[str] = mapped_column(primary_key=True)
    customer_key: Mapped[str] = mapped_column(primary_key=True)  # "" for entries without one
    group_slug: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(36))  # the compute that booked the first entry
    recorded_at: Mapped[dt.datetime]  # that compute's as-of time


# compute reads a batch's customers' terms (connector.ledger.terms.recorded: program, customer_key IN …)
Index("ix_customer_terms_program_customer", CustomerTerms.program, CustomerTerms.customer_key)
