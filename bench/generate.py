"""Deterministic benchmark scenarios (``shared/spec/scenarios.md``) of a named size, built in memory.

Why: a benchmark is only comparable between commits if every run sees the very same world, and the
large size (1.2 million invoices) must never be written to disk as one JSON document. So the world
is a pure function of ``(size, seed)``: the sandbox process and the measuring process can each
rebuild it instead of shipping it around. ``stream`` hands the records over one by one (the sandbox
packs each as it arrives, so L never exists as one document); ``generate`` collects them into one.

Memory matters at L: times are written as integers already in each API's unit (PartnerStack epoch
milliseconds, Stripe epoch seconds), which the sandbox serves as given without copying the record,
and sub-objects that never differ (a line's ``pricing``, a subscription item's ``price``) are shared.

The world covers every rule kind of the four programs: groups master/elite/sales; leads with
duplicates, free-mail addresses and missing consent; deals for the tech-consultant program; products
of every category with ``unit_cost`` (some unknown, some below the 10 % margin); recurring (monthly,
quarterly, yearly) and one-time prices; subscriptions with ``term_months`` and upgrades after the
term; taxed invoices of 1-4 lines; refunds, post-payment credit notes (with and without a refund),
disputes linked through ``invoice_payments``; open past-due invoices; and marketing costs.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
NOW_S = int(NOW.timestamp())
# The earliest time in any generated record (groups and the catalogue): what ``load_scenario`` would give
# a record without one, for loading the world record by record.
EARLIEST_MS = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()) * 1000
DAY = 86_400
HORIZON_MONTHS = 24  # invoices fall in the 24 calendar months before NOW
FIRST_MONTH = (2024, 7)
MAX_INVOICES_PER_CUSTOMER = 2 * 12 - 1
TEST_RECORD_RATE = 0.005
REFUND_RATE = 0.015  # refund without a credit note
CREDIT_WITH_REFUND_RATE = 0.010  # post-payment credit note that refunds the card
CREDIT_TO_BALANCE_RATE = 0.005  # post-payment credit note to the customer balance
DISPUTE_RATE = 0.005
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com")
LEGAL_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "SAS", "")
WORDS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Hooli", "Vandelay",
    "Soylent", "Wonka", "Gringotts", "Oscorp", "Aperture", "Nakatomi", "Massive", "Dynamic", "Blue", "Quantum",
)
TAX_RATE_BY_CURRENCY = {"usd": (0, 8), "eur": (19, 20), "gbp": (20,)}  # percent, exclusive


@dataclass(frozen=True)
class Size:
    partners: int
    customers: int
    invoices: int


SIZES: dict[str, Size] = {
    "XS": Size(partners=5, customers=20, invoices=240),
    "S": Size(partners=100, customers=1_000, invoices=12_000),
    "M": Size(partners=1_000, customers=10_000, invoices=120_000),
    "L": Size(partners=10_000, customers=100_000, invoices=1_200_000),
}


@dataclass(frozen=True)
class ProductSpec:
    id: str
    name: str
    category: str
    unit_cost: int | None  # minor units per unit (per 100 of price), None = unknown margin
    # (interval, interval_count) of each price; None = one-time
    plans: tuple[tuple[str, int] | None, ...]
    unit_amount: int  # in minor units of each currency (a synthetic list price)


CATALOGUE: tuple[ProductSpec, ...] = (
    ProductSpec("prod_sw_basic", "Platform Basic", "software", 800, (("month", 1), ("year", 1)), 4_900),
    ProductSpec("prod_sw_pro", "Platform Pro", "software", 2_000, (("month", 1), ("year", 1)), 19_900),
    ProductSpec("prod_sw_ent", "Platform Enterprise", "software", 9_000, (("month", 1),), 99_000),
    ProductSpec("prod_host_s", "Hosting Small", "hosting", 1_500, (("month", 1),), 2_500),
    ProductSpec("prod_host_l", "Hosting Large (thin margin)", "hosting", 14_000, (("month", 1),), 15_000),
    ProductSpec("prod_managed", "Managed Service", "managed_service", None, (("month", 3),), 60_000),
    ProductSpec("prod_hw_router", "Edge Router", "hardware", 30_000, (None,), 45_000),
    ProductSpec("prod_hw_lease", "Hardware Lease", "hardware", 4_000, (("month", 1),), 6_000),
    ProductSpec("prod_setup", "Onboarding Setup Fee", "setup_fee", 10_000, (None,), 50_000),
    ProductSpec("prod_consult", "Consulting Day", "consulting", 60_000, (None,), 120_000),
    ProductSpec("prod_retainer", "Advisory Retainer", "consulting", 50_000, (("month", 1),), 100_000),
    ProductSpec("prod_support", "Premium Support", "software", 1_000, (("week", 1), ("month", 1)), 3_000),
)
CURRENCIES = ("usd", "eur", "gbp")
# finance's FX rate file of every world: USD per unit, so the EUR and GBP customers' commissions are
# paid (in USD) like the USD ones instead of held `fx_rate_missing`
FX_RATES = [{"date": "2020-01-01", "currency": "eur", "rate": "1.08"},
            {"date": "2020-01-01", "currency": "gbp", "rate": "1.27"}]
RECURRING_MAIN = ("prod_sw_basic", "prod_sw_pro", "prod_sw_ent")
RECURRING_ADDONS = ("prod_host_s", "prod_host_l", "prod_managed", "prod_hw_lease", "prod_retainer", "prod_support")


def _s(year: int, month: int, day: int = 1) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp())


def _month_start(index: int) -> tuple[int, int]:
    """(year, month) of the ``index``-th month of the horizon."""
    months = FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1 + index
    return months // 12, months % 12 + 1


def _iso_date(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date().isoformat()


def size_of(name: str) -> Size:
    try:
        return SIZES[name.upper()]
    except KeyError:
        raise ValueError(f"unknown size {name!r}: one of {', '.join(SIZES)}") from None


@dataclass
class _Price:
    obj: dict[str, Any]
    pricing: dict[str, Any]  # shared by every invoice line of this price
    spec: ProductSpec
    interval: str | None
    interval_count: int


def _catalogue() -> tuple[list[dict[str, Any]], dict[tuple[str, str, str | None, int], _Price]]:
    products: list[dict[str, Any]] = []
    prices: dict[tuple[str, str, str | None, int], _Price] = {}
    created = _s(2024, 1, 1)
    for spec in CATALOGUE:
        metadata = {"category": spec.category}
        if spec.unit_cost is not None:
            metadata["unit_cost"] = str(spec.unit_cost)
        products.append({"id": spec.id, "name": spec.name, "metadata": metadata, "created": created, "active": True})
        for plan in spec.plans:
            interval, count = plan if plan is not None else (None, 1)
            for currency in CURRENCIES:
                price_id = f"price_{spec.id[5:]}_{interval or 'once'}{count}_{currency}"
                amount = spec.unit_amount * (12 if interval == "year" else 1)
                obj: dict[str, Any] = {
                    "id": price_id,
                    "product": spec.id,
                    "currency": currency,
                    "unit_amount": amount,
                    "unit_amount_decimal": str(amount),
                    "type": "recurring" if interval else "one_time",
                    "recurring": {"interval": interval, "interval_count": count, "usage_type": "licensed"}
                    if interval
                    else None,
                    "billing_scheme": "per_unit",
                    "active": True,
                    "created": created,
                }
                pricing = {
                    "type": "price_details",
                    "price_details": {"price": price_id, "product": spec.id},
                    "unit_amount_decimal": str(amount),
                }
                prices[(spec.id, currency, interval, count)] = _Price(obj, pricing, spec, interval, count)
    return products, prices


def _months_between(interval: str | None, count: int) -> int:
    """Billing period length in months (weeks are billed with the month for simplicity)."""
    if interval == "year":
        return 12 * count
    if interval == "month":
        return count
    return 1


PS_SECTIONS = ("groups", "partnerships", "customers", "leads", "deals")
STRIPE_SECTIONS = ("products", "prices", "customers", "subscriptions", "invoices", "credit_notes", "refunds",
                   "disputes", "invoice_payments")

# Receives each record as it is made: (system, section, record), system "partnerstack" or "stripe".
Sink = Callable[[str, str, dict[str, Any]], None]
# A subscription as the invoice loop needs it: (start month offset, record, its (price, quantity) items).
_Sub = tuple[int, dict[str, Any], list[tuple["_Price", int]]]


class _World:
    """Hands the scenario's records to a sink while walking customers in id order.

    Why a sink: at L the world is ~2.5 million records; the sandbox stores each one compactly as it
    arrives, so the whole world never exists as dicts at once. Catalogue records come first (a
    subscription's served text embeds its prices) and an invoice always comes before its payment.
    """

    def __init__(self, size: Size, seed: int, sink: Sink) -> None:
        self.size = size
        self.rng = random.Random(f"bench-{seed}")
        self.products, self.prices = _catalogue()
        self.emit = sink
        self.costs: list[dict[str, Any]] = []
        self.partner_domains: list[str] = []
        self.partner_keys: list[str] = []

    def catalogue(self) -> None:
        for product in self.products:
            self.emit("stripe", "products", product)
        for price in self.prices.values():
            self.emit("stripe", "prices", price.obj)

    # ------------------------------------------------------------------ PartnerStack partners
    def groups(self) -> list[dict[str, Any]]:
        created = _s(2024, 1, 1) * 1000
        groups = []
        for slug, name in (("master", "Master Partner"), ("elite", "Elite Partner"), ("sales", "Sales Partner")):
            groups.append({"key": f"grup_{slug}", "name": name, "slug": slug, "created_at": created})
            self.emit("partnerstack", "groups", groups[-1])
        return groups

    def partners(self, groups: list[dict[str, Any]]) -> None:
        rng = self.rng
        group_objs = {g["slug"]: {"key": g["key"], "name": g["name"], "slug": g["slug"]} for g in groups}
        for i in range(self.size.partners):
            country = rng.choices(("US", "GB", "DE", "FR", "CA"), (50, 15, 15, 10, 10))[0]
            individual = rng.random() < 0.15
            slug = rng.choices(("master", "elite", "sales"), (20, 30, 50))[0]
            domain = f"partner{i}-advisory.com"
            key = f"part_{i:06d}"
            pkey = f"p{i:06d}"
            self.partner_domains.append(domain)
            self.partner_keys.append(pkey)
            fields: dict[str, Any] = {
                "city": rng.choice(("Boston", "London", "Berlin", "Paris", "Toronto", "Austin")),
                "country": country,
                "business_type": "individual" if individual else rng.choice(("agency", "consultancy", "reseller")),
                "team_size": str(rng.randint(1, 200)),
                "number_of_clients": str(rng.randint(1, 500)),
                "referrer_relationship": rng.choices(
                    ("customer", "employee_with_consent", "employee", "other"), (40, 30, 15, 15)
                )[0],
            }
            if not individual:
                fields["company_website"] = f"https://{domain}"
            want_form = "W-9" if country == "US" else ("W-8BEN" if individual else "W-8BEN-E")
            roll = rng.random()
            if roll < 0.85:
                fields["tax_form"] = want_form
                fields["tax_id"] = f"TX{i:07d}{rng.randint(10, 99)}"
            elif roll < 0.93:
                fields["tax_form"] = "W-8BEN" if want_form == "W-9" else "W-9"  # the wrong form
                fields["tax_id"] = f"TX{i:07d}{rng.randint(10, 99)}"
            if rng.random() < 0.93:
                if country == "US":
                    fields["bank_account_number"] = f"{rng.randint(10**11, 10**12 - 1)}"
                    fields["bank_routing_number"] = f"0{rng.randint(10**7, 10**8 - 1)}"
                else:
                    fields["iban"] = f"{country}{rng.randint(10, 99)}BANK{rng.randint(10**13, 10**14 - 1)}"
            if rng.random() < 0.05:
                fields.pop(rng.choice(("city", "business_type", "team_size", "number_of_clients")), None)
            created = _s(2024, 1, 1) + rng.randrange(180 * DAY)
            record: dict[str, Any] = {
                "key": key,
                "partner_key": pkey,
                "email": f"contact@{domain}",
                "first_name": rng.choice(("Ada", "Bob", "Chen", "Dana", "Emil", "Fatima", "Gus")),
                "last_name": f"Partner{i}",
                "company_name": None if individual else f"Partner {i} Advisory {rng.choice(LEGAL_SUFFIXES)}".strip(),
                "group": group_objs[slug],
                "address": {"country": country},
                "created_at": created * 1000,
                "fields": fields,
            }
            self.emit("partnerstack", "partnerships", record)

    # ------------------------------------------------------------------ customers and billing
    def invoice_counts(self) -> list[int]:
        """Invoices per customer: varied, mean exactly invoices / customers, summing to the target."""
        n, total = self.size.customers, self.size.invoices
        base, extra = divmod(total, n)
        counts = [base + (1 if j < extra else 0) for j in range(n)]
        for j in range(0, n - 1, 2):  # move invoices between neighbours: totals unchanged
            spread = min(counts[j] - 1, MAX_INVOICES_PER_CUSTOMER - counts[j + 1], counts[j + 1] - 1,
                         MAX_INVOICES_PER_CUSTOMER - counts[j])
            if spread > 0:
                delta = self.rng.randint(-spread, spread)
                counts[j] -= delta
                counts[j + 1] += delta
        return counts

    def customers(self) -> None:
        rng = self.rng
        counts = self.invoice_counts()
        open_lead_every = 10
        for j, count in enumerate(counts):
            self.customer(j, count)
            if j % open_lead_every == 0:
                self.open_lead(j)
        for k in range(max(5, self.size.customers // 20)):
            self.deal(k)
        rng.shuffle(self.costs)  # finance's file is in no particular order

    def customer(self, j: int, count: int) -> None:
        rng = self.rng
        cus_id = f"cus_{j:07d}"
        ckey = f"ck{j:07d}"
        word_a, word_b = rng.choice(WORDS), rng.choice(WORDS)
        suffix = rng.choice(LEGAL_SUFFIXES)
        name = f"{word_a} {word_b} {j} {suffix}".strip()
        domain = f"{word_a.lower()}{word_b.lower()}{j}.io"
        currency = rng.choices(CURRENCIES, (70, 15, 15))[0]
        start_month = rng.randint(0, HORIZON_MONTHS - count)
        bill_day = rng.randint(1, 28)
        first_invoice_s = _s(*_month_start(start_month), bill_day)
        created_s = first_invoice_s - rng.randint(1, 20) * DAY
        self.emit("stripe", "customers", {
            "id": cus_id, "email": f"billing@{domain}", "name": name, "created": created_s, "currency": currency,
            "metadata": {"customer_key": ckey},
        })
        partner = rng.randrange(self.size.partners)
        referred = rng.random() < 0.9
        if referred:
            self.referral(j, cus_id, ckey, name, domain, partner, created_s, first_invoice_s)
        subs = self.subscriptions(j, cus_id, currency, first_invoice_s)
        self.invoices(j, cus_id, currency, start_month, bill_day, count, subs)
        if rng.random() < 0.02:
            for _ in range(rng.randint(1, 3)):
                when = first_invoice_s + rng.randrange(max(DAY, NOW_S - first_invoice_s))
                self.costs.append({
                    "customer": cus_id, "date": _iso_date(when), "amount": rng.randint(10, 500) * 100,
                    "currency": currency, "note": rng.choice(("trade show", "co-marketing", "webinar")),
                })

    def referral(
        self, j: int, cus_id: str, ckey: str, name: str, domain: str, partner: int, created_s: int, first_paid_s: int
    ) -> None:
        rng = self.rng
        pkey = self.partner_keys[partner]
        email = f"cfo@{domain}"
        if rng.random() < 0.01:  # self-referral: the partner's own domain
            email = f"ops@{self.partner_domains[partner]}"
        submitted = created_s - rng.randint(0, 5) * DAY
        if rng.random() < 0.02:  # existing customer: referred after the first paid invoice
            submitted = first_paid_s + rng.randint(20, 90) * DAY
        self.emit("partnerstack", "customers", {
            "key": f"cust_{j:07d}", "customer_key": ckey, "partnership_key": f"part_{partner:06d}",
            "partner_key": pkey, "email": email, "name": name, "provider_key": cus_id,
            "created_at": min(submitted, NOW_S - DAY) * 1000, "test": rng.random() < TEST_RECORD_RATE,
        })
        roll = rng.random()
        if roll < 0.7:
            lead_at = submitted - rng.randint(1, 20) * DAY
            free = rng.random() < 0.1
            fields: dict[str, Any] = {
                "company_name": name,
                "email": f"{rng.choice(('ann', 'li', 'max'))}{j}@{rng.choice(FREE_MAIL)}" if free else email,
                "consent": rng.random() < 0.95,
            }
            if free:
                fields["domain"] = domain
            self.emit("partnerstack", "leads", {
                "key": f"lead_{j:07d}", "partner_key": pkey, "external_key": ckey, "status": "closed won",
                "created_at": lead_at * 1000, "fields": fields,
            })
            if rng.random() < 0.05:  # another partner (or the same) hands in the same company again
                other = rng.randrange(self.size.partners)
                earlier = rng.random() < 0.2  # and sometimes first: then the converted lead is the duplicate
                variant = name.upper().replace(" INC", "").replace(" LLC", "").replace(" LTD", "")
                self.emit("partnerstack", "leads", {
                    "key": f"lead_{j:07d}_dup", "partner_key": self.partner_keys[other], "status": "open",
                    "created_at": (lead_at + (-1 if earlier else 1) * rng.randint(1, 30) * DAY) * 1000,
                    "fields": {"company_name": variant, "email": f"sales@{domain.upper()}", "consent": True},
                })

    def open_lead(self, j: int) -> None:
        """A lead that never converted (no customer): decision ``open``."""
        rng = self.rng
        free = rng.random() < 0.3
        word = rng.choice(WORDS)
        self.emit("partnerstack", "leads", {
            "key": f"lead_open_{j:07d}", "partner_key": self.partner_keys[rng.randrange(self.size.partners)],
            "status": "open", "created_at": (NOW_S - rng.randint(1, 300) * DAY) * 1000,
            "fields": {
                "company_name": f"{word} Prospect {j} Ltd",
                "email": f"hello{j}@{rng.choice(FREE_MAIL)}" if free else f"hello@{word.lower()}prospect{j}.com",
                "consent": rng.random() < 0.9,
            },
        })

    def deal(self, k: int) -> None:
        rng = self.rng
        consultants = max(1, self.size.partners // 5)  # a fifth of the partners are tech consultants
        partner = rng.randrange(consultants)
        created = NOW_S - rng.randint(30, 600) * DAY
        stage = rng.choices(("closed won", "open", "closed lost"), (70, 15, 15))[0]
        close = created + rng.randint(5, 90) * DAY  # beyond 60 days: contract window expired
        amount = rng.choice((20_000, 45_000, 49_999, 50_000, 120_000, 150_000, 260_000, 600_000)) * 100
        customer = rng.randrange(self.size.customers)
        self.emit("partnerstack", "deals", {
            "key": f"deal_{k:06d}", "partner_key": self.partner_keys[partner], "name": f"Project {k}",
            "stage": stage, "amount": amount, "currency": "usd", "external_key": f"cus_{customer:07d}",
            "created_at": created * 1000, "close_date": min(close, NOW_S - DAY) * 1000 if stage != "open" else None,
        })

    def subscriptions(self, j: int, cus_id: str, currency: str, start_s: int) -> list[_Sub]:
        """The customer's subscriptions as (start month offset, record, items); a second one is an upgrade."""
        rng = self.rng
        term = rng.choice((12, 12, 24, 36))
        items: list[tuple[_Price, int]] = [(self.prices[(rng.choice(RECURRING_MAIN), currency, "month", 1)], 1)]
        for _ in range(rng.choice((0, 0, 1, 2))):
            spec_id = rng.choice(RECURRING_ADDONS)
            spec = next(p for p in CATALOGUE if p.id == spec_id)
            plan = rng.choice(spec.plans)
            assert plan is not None
            items.append((self.prices[(spec_id, currency, plan[0], plan[1])], rng.randint(1, 3)))
        first = self.subscription(f"sub_{j:07d}", cus_id, currency, start_s, term, items)
        subs = [(0, first, items)]
        if rng.random() < 0.15:
            upgraded = [(price, qty + rng.randint(1, 3)) for price, qty in items]
            start = dt.datetime.fromtimestamp(start_s, tz=dt.UTC)
            months = start.year * 12 + start.month - 1 + term
            up_start = _s(months // 12, months % 12 + 1, min(start.day, 28))
            if up_start < NOW_S:
                upgrade = self.subscription(f"sub_{j:07d}_up", cus_id, currency, up_start, 12, upgraded)
                subs.append((term, upgrade, upgraded))
        return subs

    def subscription(
        self, sub_id: str, cus_id: str, currency: str, start_s: int, term: int, items: list[tuple[_Price, int]]
    ) -> dict[str, Any]:
        record = {
            "id": sub_id, "customer": cus_id, "currency": currency, "status": "active", "created": start_s,
            "start_date": start_s, "metadata": {"term_months": str(term)},
            "items": [
                {"id": f"si_{sub_id[4:]}_{n}", "price": price.obj, "quantity": qty, "created": start_s}
                for n, (price, qty) in enumerate(items)
            ],
        }
        self.emit("stripe", "subscriptions", record)
        return record

    def invoices(
        self, j: int, cus_id: str, currency: str, start_month: int, bill_day: int, count: int,
        subs: list[_Sub],
    ) -> None:
        rng = self.rng
        rate = rng.choice(TAX_RATE_BY_CURRENCY[currency])
        for k in range(count):
            created = _s(*_month_start(start_month + k), bill_day)
            if created >= NOW_S:
                created = NOW_S - DAY
            sub, items = subs[0][1], subs[0][2]
            for offset, candidate, candidate_items in subs:
                if k >= offset:
                    sub, items = candidate, candidate_items
            lines: list[tuple[_Price, int]] = []
            for price, qty in items:
                if k % _months_between(price.interval, price.interval_count) == 0:
                    lines.append((price, qty))
            if k == 0 and rng.random() < 0.3:
                lines.append((self.prices[("prod_setup", currency, None, 1)], 1))
            if rng.random() < 0.03:
                lines.append((self.prices[(rng.choice(("prod_consult", "prod_hw_router")), currency, None, 1)],
                              rng.randint(1, 2)))
            self.invoice(f"in_{j:07d}_{k:03d}", cus_id, currency, created, sub["id"], lines[:4], rate,
                         last=k == count - 1)

    def invoice(
        self, inv_id: str, cus_id: str, currency: str, created: int, sub_id: str,
        lines: list[tuple[_Price, int]], rate: int, *, last: bool,
    ) -> None:
        rng = self.rng
        period = {"start": created, "end": created + 30 * DAY}
        line_objs = []
        subtotal = 0
        for n, (price, qty) in enumerate(lines):
            amount = price.obj["unit_amount"] * qty
            subtotal += amount
            line_objs.append({
                "id": f"il_{inv_id[3:]}_{n}", "amount": amount, "currency": currency, "quantity": qty,
                "pricing": price.pricing, "period": period,
                "description": price.spec.name,
            })
        tax = subtotal * rate // 100
        total = subtotal + tax
        roll = rng.random()
        if last and created > NOW_S - 45 * DAY and roll < 0.05:
            status = "open"
        elif roll > 0.99:
            status = "void"
        else:
            status = "paid"
        paid_at = min(created + rng.randint(0, 5) * DAY, NOW_S - 3600) if status == "paid" else None
        record: dict[str, Any] = {
            "id": inv_id, "customer": cus_id, "currency": currency, "status": status, "created": created,
            "collection_method": "send_invoice", "due_date": created + 14 * DAY,
            "subtotal": subtotal, "total": total, "amount_due": total,
            "amount_paid": total if status == "paid" else 0,
            "total_taxes": [{"amount": tax, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
                             "taxable_amount": subtotal}] if tax else [],
            "status_transitions": {"finalized_at": created, "paid_at": paid_at,
                                   "voided_at": created + DAY if status == "void" else None},
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": sub_id, "metadata": {}}},
            "lines": line_objs,
        }
        self.emit("stripe", "invoices", record)
        if status == "paid" and paid_at is not None:
            self.payment_and_adjustments(record, paid_at, subtotal, tax, line_objs[0]["id"])

    def payment_and_adjustments(
        self, invoice: dict[str, Any], paid_at: int, subtotal: int, tax: int, first_line: str
    ) -> None:
        rng = self.rng
        inv_id = invoice["id"]
        suffix = inv_id[3:]
        pi, ch = f"pi_{suffix}", f"ch_{suffix}"
        total = invoice["amount_paid"]
        currency = invoice["currency"]
        self.emit("stripe", "invoice_payments", {
            "id": f"inpay_{suffix}", "invoice": inv_id, "amount_paid": total, "currency": currency,
            "status": "paid", "is_default": True, "payment": {"type": "payment_intent", "payment_intent": pi},
            "created": paid_at,
        })
        roll = rng.random()
        when = min(paid_at + rng.randint(1, 40) * DAY, NOW_S - 7200)
        if roll < REFUND_RATE:
            amount = total if rng.random() < 0.3 else total // 2
            self.refund(f"re_{suffix}", pi, ch, amount, currency, when)
        elif roll < REFUND_RATE + CREDIT_WITH_REFUND_RATE + CREDIT_TO_BALANCE_RATE:
            credited = subtotal if rng.random() < 0.3 else subtotal // 2
            credited_tax = credited * tax // subtotal if subtotal else 0
            amount = credited + credited_tax
            refunds = []
            if roll < REFUND_RATE + CREDIT_WITH_REFUND_RATE:
                self.refund(f"re_{suffix}", pi, ch, amount, currency, when)
                refunds = [{"refund": f"re_{suffix}", "amount_refunded": amount, "type": "refund"}]
            self.emit("stripe", "credit_notes", {
                "id": f"cn_{suffix}", "invoice": inv_id, "customer": invoice["customer"], "currency": currency,
                "type": "post_payment", "status": "issued", "reason": "product_unsatisfactory",
                "amount": amount, "subtotal": credited, "subtotal_excluding_tax": credited, "total": amount,
                "total_excluding_tax": credited, "post_payment_amount": amount, "pre_payment_amount": 0,
                "total_taxes": [{"amount": credited_tax, "tax_behavior": "exclusive",
                                 "taxability_reason": "standard_rated", "taxable_amount": credited}]
                if credited_tax else [],
                "refunds": refunds, "created": when,
                "lines": [{"id": f"cnli_{suffix}", "type": "invoice_line_item", "invoice_line_item": first_line,
                           "amount": credited, "quantity": 1}],
            })
        if rng.random() < DISPUTE_RATE:
            self.emit("stripe", "disputes", {
                "id": f"dp_{suffix}", "charge": ch, "payment_intent": pi, "amount": total, "currency": currency,
                "status": rng.choices(("lost", "won", "needs_response"), (50, 30, 20))[0], "reason": "fraudulent",
                "created": min(paid_at + rng.randint(10, 60) * DAY, NOW_S - 3600),
            })

    def refund(self, re_id: str, pi: str, ch: str, amount: int, currency: str, when: int) -> None:
        self.emit("stripe", "refunds", {
            "id": re_id, "payment_intent": pi, "charge": ch, "amount": amount, "currency": currency,
            "status": "succeeded", "reason": "requested_by_customer", "created": when,
        })

    def run(self) -> None:
        self.catalogue()
        self.partners(self.groups())
        self.customers()


@dataclass(frozen=True)
class WorldInfo:
    """The top level of a generated scenario (everything but the record sections)."""

    name: str
    description: str
    now: str
    marketing_costs: list[dict[str, Any]]


def finance_of(info: WorldInfo) -> dict[str, Any]:
    """The world's `finance` section: finance's cost file and its FX rates (both served as files)."""
    return {"marketing_costs": info.marketing_costs, "fx_rates": FX_RATES}


def stream(size: str, seed: int, sink: Sink) -> WorldInfo:
    """Generate the world of a named size record by record into ``sink``; the same (size, seed), the same
    records in the same order."""
    spec = size_of(size)
    world = _World(spec, seed, sink)
    world.run()
    name = size.upper()
    return WorldInfo(
        name=f"bench-{name}-seed{seed}",
        description=f"benchmark world {name}: {spec.partners} partners, {spec.customers} customers, "
        f"{spec.invoices} invoices",
        now=NOW.isoformat().replace("+00:00", "Z"),
        marketing_costs=world.costs,
    )


def generate(size: str, seed: int = 1) -> dict[str, Any]:
    """The scenario of a named size (``XS``, ``S``, ``M``, ``L``) as one document; the same (size, seed) gives
    the same dict. Needs the whole world in memory: the benchmark's sandbox uses ``stream`` instead."""
    sections: dict[str, dict[str, list[dict[str, Any]]]] = {
        "partnerstack": {n: [] for n in PS_SECTIONS},
        "stripe": {n: [] for n in STRIPE_SECTIONS},
    }
    info = stream(size, seed, lambda system, section, record: sections[system][section].append(record))
    return {
        "name": info.name,
        "description": info.description,
        "now": info.now,
        "partnerstack": sections["partnerstack"],
        "stripe": sections["stripe"],
        "finance": finance_of(info),
        "expect": {},
    }


def changed_customers(size: str, seed: int = 1, fraction: float = 0.01) -> list[int]:
    """Indexes of the customers an incremental benchmark changes: every ``1/fraction``-th, offset by seed."""
    n = size_of(size).customers
    step = max(1, round(1 / fraction))
    return list(range(seed % step, n, step))


def change_set(size: str, seed: int = 1, fraction: float = 0.01, at: int | None = None) -> dict[str, Any]:
    """A partial scenario for ``/_sandbox/apply``: a new paid invoice for a fraction of the customers.

    Each changed customer gets a renamed PartnerStack customer record, a new paid invoice (one line of the
    main plan, untaxed) and its invoice payment, all stamped ``at`` (default: an hour after the world's
    NOW); the partial moves the sandbox clock there, so the change is newer than anything a backfill saw.
    """
    stamp = at if at is not None else NOW_S + 3600
    invoices: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    ps_customers: list[dict[str, Any]] = []
    price_usd = 4_900
    for j in changed_customers(size, seed, fraction):
        cus_id = f"cus_{j:07d}"
        inv_id = f"in_{j:07d}_chg"
        invoices.append({
            "id": inv_id, "customer": cus_id, "currency": "usd", "status": "paid", "created": stamp,
            "subtotal": price_usd, "total": price_usd, "amount_due": price_usd, "amount_paid": price_usd,
            "total_taxes": [], "status_transitions": {"finalized_at": stamp, "paid_at": stamp},
            "lines": [{"id": f"il_{j:07d}_chg", "amount": price_usd, "currency": "usd", "quantity": 1,
                       "pricing": {"type": "price_details",
                                   "price_details": {"price": "price_sw_basic_month1_usd", "product": "prod_sw_basic"}},
                       "period": {"start": stamp, "end": stamp + 30 * DAY}}],
        })
        payments.append({
            "id": f"inpay_{j:07d}_chg", "invoice": inv_id, "amount_paid": price_usd, "currency": "usd",
            "status": "paid", "payment": {"type": "payment_intent", "payment_intent": f"pi_{j:07d}_chg"},
            "created": stamp,
        })
        ps_customers.append({"key": f"cust_{j:07d}", "name": f"Renamed customer {j}"})
    return {
        "now": dt.datetime.fromtimestamp(stamp, tz=dt.UTC).isoformat().replace("+00:00", "Z"),
        "partnerstack": {"customers": ps_customers},
        "stripe": {"invoices": invoices, "invoice_payments": payments},
    }


def counts(document: dict[str, Any]) -> dict[str, int]:
    """Records per section (``partnerstack.leads`` …), for the benchmark's records-per-second figure."""
    out: dict[str, int] = {}
    for system in ("partnerstack", "stripe"):
        for name, records in document.get(system, {}).items():
            out[f"{system}.{name}"] = len(records)
    out["finance.marketing_costs"] = len(document.get("finance", {}).get("marketing_costs", []))
    return out


def iter_records(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every upstream record with its ``system.section`` name."""
    for system in ("partnerstack", "stripe"):
        for name, records in document.get(system, {}).items():
            for record in records:
                yield f"{system}.{name}", record
