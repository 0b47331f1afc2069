"""A generated medium scenario (hundreds of partners, thousands of invoices) and its 1 % changes.

Why generated: a committed file of this size would dwarf the code it tests, and the shape
(how many partners, invoices per customer) is a parameter of the load test.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def iso(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def partnership(i: int) -> dict[str, Any]:
    return {
        "key": f"part_{i:04d}", "partner_key": f"p{i:04d}", "email": f"p{i}@partner{i}.example",
        "first_name": "P", "last_name": f"N{i}", "company_name": f"Partner {i} LLC",
        "group": {"key": "grup_master", "name": "Master Partner", "slug": "master"},
        "address": {"country": "US"}, "created_at": iso(START - dt.timedelta(days=30, minutes=i)),
        "fields": {"tax_form": "W-9", "tax_id": f"123-45-{i:04d}", "bank_account_number": f"0001234{i:05d}",
                   "bank_routing_number": "021000021", "company_website": f"https://partner{i}.example",
                   "city": "Boston", "country": "US", "business_type": "consultancy", "team_size": "4",
                   "number_of_clients": "25"},
    }


def invoice(cust: int, n: int, created: dt.datetime, amount: int) -> dict[str, Any]:
    return {
        "id": f"in_{cust:04d}_{n:03d}", "customer": f"cus_{cust:04d}", "currency": "usd", "status": "paid",
        "created": iso(created), "subtotal": amount, "total": amount, "amount_due": amount, "amount_paid": amount,
        "status_transitions": {"finalized_at": iso(created), "paid_at": iso(created + dt.timedelta(days=1))},
        "lines": [{"id": f"il_{cust:04d}_{n:03d}", "amount": amount, "currency": "usd", "quantity": 1,
                   "pricing": {"type": "price_details",
                               "price_details": {"price": "price_m", "product": "prod_platform"}},
                   "period": {"start": iso(created), "end": iso(created + dt.timedelta(days=30))}}],
    }


def medium_scenario(partners: int = 300, invoices_per_customer: int = 10, referred_every: int = 10,
                    seed: int = 1) -> dict[str, Any]:
    """One Stripe customer per partner, each with `invoices_per_customer` paid invoices; every
    `referred_every`th is a referred customer (lead + PartnerStack customer), so the pull reads
    thousands of invoices while the push stays in the hundreds."""
    rng = random.Random(seed)
    ps: dict[str, list[Any]] = {"groups": [{"key": "grup_master", "name": "Master Partner", "slug": "master",
                                            "created_at": iso(START - dt.timedelta(days=60))}],
                                "partnerships": [], "leads": [], "customers": []}
    st: dict[str, list[Any]] = {
        "products": [{"id": "prod_platform", "name": "Platform", "metadata": {"category": "software"}}],
        "prices": [{"id": "price_m", "product": "prod_platform", "currency": "usd", "unit_amount": 10000,
                    "type": "recurring", "recurring": {"interval": "month", "interval_count": 1}}],
        "customers": [], "invoices": [],
    }
    for i in range(partners):
        ps["partnerships"].append(partnership(i))
        signed = START + dt.timedelta(days=i % 20, hours=i)
        referred = i % referred_every == 0
        (ps["leads"] if referred else []).append({"key": f"lead_{i:04d}", "partner_key": f"p{i:04d}",
                            "created_at": iso(signed),
                            "external_key": f"c-{i:04d}", "status": "closed won",
                            "fields": {"company_name": f"Customer {i} Inc", "email": f"cfo@customer{i}.example",
                                       "consent": True}})
        (ps["customers"] if referred else []).append({"key": f"cust_{i:04d}", "customer_key": f"c-{i:04d}",
                                "partnership_key": f"part_{i:04d}", "partner_key": f"p{i:04d}",
                                "email": f"cfo@customer{i}.example", "name": f"Customer {i}",
                                "provider_key": f"cus_{i:04d}", "created_at": iso(signed + dt.timedelta(days=1)),
                                "test": False})
        st["customers"].append({"id": f"cus_{i:04d}", "email": f"billing@customer{i}.example",
                                "name": f"Customer {i}", "created": iso(signed + dt.timedelta(days=2)),
                                "metadata": {"customer_key": f"c-{i:04d}"}})
        for n in range(invoices_per_customer):
            created = signed + dt.timedelta(days=3 + 14 * n, minutes=n)
            if created < NOW:
                st["invoices"].append(invoice(i, n, created, rng.choice((5000, 10000, 25000))))
    return {"name": "medium", "now": iso(NOW), "partnerstack": ps, "stripe": st}


def one_percent_change(doc: dict[str, Any], round_: int) -> dict[str, Any]:
    """A partial scenario touching 1 % of the records: new invoices and renamed partners."""
    partners = doc["partnerstack"]["partnerships"]
    invoices = doc["stripe"]["invoices"]
    changed = max(1, len(partners) // 100)
    new_invoices = max(1, len(invoices) // 100)
    renamed = [dict(partners[(round_ * 7 + k) % len(partners)], last_name=f"R{round_}") for k in range(changed)]
    fresh = [invoice((round_ * 10 + k * 10) % len(partners), 900 + round_ * 50 + k,
                     NOW - dt.timedelta(days=2, minutes=k), 10000) for k in range(new_invoices)]
    return {"partnerstack": {"partnerships": renamed}, "stripe": {"invoices": fresh}}
