"""What makes a report readable by a person rather than a program: names beside keys, dates as
dates, and links to the objects in the Stripe dashboard and the partner in PartnerStack.

Why a module of its own: every format (HTML, XLSX, CSV, table) shows the same name for a key
and the same link for an object, and the report's numbers never depend on any of it. Links
are built from `[report] stripe_dashboard` and `[report] partnerstack_partner_url`; an empty
setting turns that kind of link off.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

# Stripe ids are `<prefix>_<rest>`; the dashboard has a page per object for these prefixes. Other
# Stripe ids (credit notes, refunds, disputes …) open the dashboard's search for the id.
_STRIPE_PAGES = {
    "cus": "customers",
    "in": "invoices",
    "sub": "subscriptions",
    "ch": "payments",
    "py": "payments",
    "pi": "payments",
    "prod": "products",
    "price": "prices",
}
_STRIPE_ID = re.compile(r"^([a-z]{2,8})_[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Links:
    """Where a key opens. `partnerstack_partner_url` is a template: `{key}` is the partnership key
    (`part_…`)."""

    stripe_dashboard: str = "https://dashboard.stripe.com"
    partnerstack_partner_url: str = "https://app.partnerstack.com/partnerships/{key}"

    def stripe(self, object_id: str | None) -> str | None:
        """The dashboard page of a Stripe object id (`in_…`, `cus_…`), None for anything else
        (a marketing-cost row's digest is not a Stripe object)."""
        if not object_id or not self.stripe_dashboard:
            return None
        match = _STRIPE_ID.match(object_id)
        if match is None:
            return None
        base = self.stripe_dashboard.rstrip("/")
        page = _STRIPE_PAGES.get(match.group(1))
        if page is None:
            return f"{base}/search?query={quote(object_id, safe='')}"
        return f"{base}/{page}/{quote(object_id, safe='')}"

    def partner(self, key: str | None) -> str | None:
        if not key or not self.partnerstack_partner_url:
            return None
        return self.partnerstack_partner_url.replace("{key}", quote(key, safe=""))


@dataclass(frozen=True)
class CustomerRow:
    """A referred customer as the report names it: the PartnerStack customer (or deal) key, the
    name PartnerStack or Stripe gives it, and its Stripe customer id for the dashboard link."""

    key: str
    name: str | None
    stripe_id: str | None


def as_date(value: dt.datetime | dt.date | None) -> str:
    """`2026-02-03`: the UTC calendar date of an event, the way finance reads a ledger."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).date().isoformat()
    return value.isoformat()


def as_time(value: dt.datetime | None) -> str:
    """`2026-02-03 14:05 UTC`: a moment (a run started, a reward was pushed), to the minute."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def labelled(key: str | None, name: str | None) -> str:
    """`Lovelace Advisory LLC (part_ada)`, or the key alone when there is no name."""
    if not key:
        return name or ""
    return f"{name} ({key})" if name and name != key else key


@dataclass(frozen=True)
class Names:
    """Name, Stripe id and PartnerStack referral key per key, looked up once per rendering."""

    partners: dict[str, str]
    customers: dict[str, str]
    customer_stripe_ids: dict[str, str]

    def partner(self, key: str | None) -> str | None:
        return self.partners.get(key) if key else None

    def customer(self, key: str | None) -> str | None:
        return self.customers.get(key) if key else None

    def stripe_customer(self, key: str | None) -> str | None:
        return self.customer_stripe_ids.get(key) if key else None


class _ReportSettings(Protocol):
    stripe_dashboard: str
    partnerstack_partner_url: str


def links_of(report_settings: _ReportSettings) -> Links:
    """The links `[report]` configures."""
    return Links(report_settings.stripe_dashboard, report_settings.partnerstack_partner_url)
