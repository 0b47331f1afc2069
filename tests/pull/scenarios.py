"""Scenarios for the pull tests: the shared Consio example and a generated one that crosses pages."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from tests.conftest import SHARED

CONSIO_EXAMPLE = SHARED / "spec" / "examples" / "consio-example.json"
NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


def consio() -> dict[str, Any]:
    return json.loads(CONSIO_EXAMPLE.read_text())


def _iso(day: dt.datetime) -> str:
    return day.strftime("%Y-%m-%dT%H:%M:%SZ")


def big(partners: int = 260, invoices: int = 120, long_invoice_lines: int = 25) -> dict[str, Any]:
    """>250 partnerships (two PartnerStack pages), >100 invoices over a year (Stripe pages and
    windows), one invoice with 25 lines (three line pages past the 10 embedded), a credit note,
    refunds, a dispute, subscriptions, costs."""
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    ps: dict[str, list[Any]] = {
        "groups": [{"key": "grup_master", "slug": "master", "name": "Master", "created_at": _iso(start)}],
        "partnerships": [],
        "customers": [],
        "leads": [],
        "deals": [],
        "rewards": [],
        "transactions": [],
    }
    for i in range(partners):
        created = start + dt.timedelta(hours=i)
        ps["partnerships"].append(
            {
                "key": f"part_{i:04d}",
                "partner_key": f"p{i:04d}",
                "email": f"p{i}@partner{i}.com",
                "company_name": f"Partner {i} LLC",
                "group": {"key": "grup_master", "slug": "master", "name": "Master"},
                "address": {"country": "US"},
                "created_at": _iso(created),
                "fields": {
                    "tax_form": "W-9",
                    "tax_id": f"12-34{i:05d}",
                    "bank_account_number": f"0009{i:08d}",
                    "bank_routing_number": "021000021",
                    "city": "Boston",
                },
            }
        )
    st: dict[str, list[Any]] = {
        "products": [
            {"id": "prod_sw", "name": "Software", "metadata": {"category": "software"}, "created": _iso(start)},
            {"id": "prod_hw", "name": "Hardware", "metadata": {"category": "hardware", "unit_cost": "1200"},
             "created": _iso(start)},
        ],
        "prices": [
            {"id": "price_sw", "product": "prod_sw", "currency": "usd", "unit_amount": 5000, "type": "recurring",
             "recurring": {"interval": "month", "interval_count": 1}, "created": _iso(start)},
            {"id": "price_hw", "product": "prod_hw", "currency": "usd", "unit_amount": 700, "type": "one_time",
             "created": _iso(start)},
        ],
        "customers": [],
        "subscriptions": [],
        "invoices": [],
        "invoice_payments": [],
        "refunds": [],
        "credit_notes": [],
        "disputes": [],
    }
    customers = 40
    for c in range(customers):
        created = start + dt.timedelta(days=c)
        st["customers"].append({"id": f"cus_{c:03d}", "email": f"billing@c{c}.io", "name": f"C{c}",
                                "created": _iso(created)})
        ps["customers"].append({"key": f"cust_{c:03d}", "customer_key": f"ck-{c:03d}",
                                "partnership_key": f"part_{c:04d}", "partner_key": f"p{c:04d}",
                                "provider_key": f"cus_{c:03d}", "email": f"billing@c{c}.io", "name": f"C{c}",
                                "created_at": _iso(created)})
        ps["leads"].append({"key": f"lead_{c:03d}", "partner_key": f"p{c:04d}", "external_key": f"ck-{c:03d}",
                            "created_at": _iso(created - dt.timedelta(days=1)),
                            "fields": {"company_name": f"C{c}", "email": f"cfo@c{c}.io", "consent": True}})
        st["subscriptions"].append({
            "id": f"sub_{c:03d}", "customer": f"cus_{c:03d}", "status": "active", "currency": "usd",
            "start_date": _iso(created), "created": _iso(created), "metadata": {"term_months": "12"},
            "items": [{"id": f"si_{c:03d}", "price": "price_sw", "quantity": 2}],
        })
    for n in range(invoices):
        c = n % customers
        created = start + dt.timedelta(days=3 * n)
        lines: list[dict[str, Any]] = [{"id": f"il_{n:04d}_0", "amount": 10000, "currency": "usd", "quantity": 2,
                  "pricing": {"type": "price_details", "price_details": {"price": "price_sw", "product": "prod_sw"}}}]
        if n == 7:
            lines = [{"id": f"il_{n:04d}_{k:02d}", "amount": 700, "currency": "usd", "quantity": 1,
                      "pricing": {"type": "price_details", "price_details": {"price": "price_hw",
                                                                             "product": "prod_hw"}}}
                     for k in range(long_invoice_lines)]
        amount = sum(int(line["amount"]) for line in lines)
        st["invoices"].append({
            "id": f"in_{n:04d}", "customer": f"cus_{c:03d}", "currency": "usd", "status": "paid",
            "created": _iso(created), "subtotal": amount, "total": amount + amount // 10,
            "amount_due": amount + amount // 10, "amount_paid": amount + amount // 10,
            "total_taxes": [{"amount": amount // 10, "tax_behavior": "exclusive"}],
            "status_transitions": {"paid_at": _iso(created + dt.timedelta(days=1))},
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": f"sub_{c:03d}"}},
            "lines": lines,
        })
        st["invoice_payments"].append({
            "id": f"inpay_{n:04d}", "invoice": f"in_{n:04d}", "amount_paid": amount + amount // 10, "currency": "usd",
            "status": "paid", "payment": {"type": "payment_intent", "payment_intent": f"pi_{n:04d}"},
            "created": _iso(created + dt.timedelta(days=1)),
        })
    st["refunds"] = [
        {"id": f"re_{n:04d}", "payment_intent": f"pi_{n:04d}", "amount": 1000, "currency": "usd",
         "status": "succeeded", "created": _iso(start + dt.timedelta(days=3 * n + 5))}
        for n in (3, 30, 90)
    ]
    st["credit_notes"] = [
        {"id": "cn_0010", "invoice": "in_0010", "customer": "cus_010", "currency": "usd", "type": "post_payment",
         "status": "issued", "total": 2200, "total_excluding_tax": 2000, "post_payment_amount": 2200,
         "refunds": [{"refund": "re_0030", "amount_refunded": 1000}],
         "created": _iso(start + dt.timedelta(days=40))},
    ]
    st["disputes"] = [
        {"id": "dp_0050", "payment_intent": "pi_0050", "charge": "ch_0050", "amount": 22000, "currency": "usd",
         "status": "lost", "created": _iso(start + dt.timedelta(days=160))},
    ]
    ps["rewards"] = [
        {"key": f"rwd_{i}", "amount": 1500 + i, "currency": "USD", "description": f"reward {i}",
         "partnership_key": f"part_{i:04d}", "created_at": _iso(NOW - dt.timedelta(days=60 - i))}
        for i in range(5)
    ]
    ps["transactions"] = [
        {"key": f"tran_{i}", "customer_key": f"ck-{i:03d}", "amount": 10000, "currency": "usd",
         "created_at": _iso(start + dt.timedelta(days=i))}
        for i in range(3)
    ]
    return {
        "name": "pull-big",
        "now": _iso(NOW),
        "partnerstack": ps,
        "stripe": st,
        "finance": {"marketing_costs": [
            {"customer": "cus_001", "date": "2026-02-01", "amount": 5000, "currency": "usd", "note": "trade show"},
            {"customer": "cus_001", "date": "2026-02-01", "amount": 5000, "currency": "usd", "note": "trade show"},
            {"customer": "cus_002", "date": "2026-03-01", "amount": 1234, "currency": "eur", "note": None},
        ]},
    }


def with_bad_records(scenario: dict[str, Any]) -> dict[str, Any]:
    """The same world plus records that must be quarantined (and change nothing else)."""
    s = copy.deepcopy(scenario)
    st, ps = s["stripe"], s["partnerstack"]
    base = st["invoices"][0]
    st["invoices"] += [
        {**base, "id": "in_bad_currency", "currency": "xyz", "lines": [{**base["lines"][0], "id": "il_bc"}]},
        {**base, "id": "in_bad_qty", "lines": [{**base["lines"][0], "id": "il_bq", "quantity": -2}]},
        {**base, "id": "in_null_amount", "amount_paid": None, "lines": [{**base["lines"][0], "id": "il_na"}]},
    ]
    st["customers"].append({"id": "cus_long", "name": "x" * 5000, "created": "2026-01-01T00:00:00Z"})
    st["refunds"].append({"id": "re_bad_date", "payment_intent": "pi_x", "amount": 10, "currency": "usd",
                          "status": "succeeded", "created": "not-a-date", "metadata": {}})
    ps["leads"].append({"partner_key": "p0001", "created_at": "2026-01-01T00:00:00Z", "fields": {}})  # no key
    ps["partnerships"].append({"key": "part_badbool", "created_at": "2026-01-01T00:00:00Z",
                               "fields": {"tax_id": "999-99-9999"}, "address": {"country": {"nested": 1}}})
    s["finance"]["marketing_costs"] += [
        {"customer": "cus_003", "date": "2026-13-45", "amount": 10, "currency": "usd", "note": "bad date"},
        {"customer": "cus_003", "date": "2026-01-01", "amount": "12.50", "currency": "usd", "note": "float"},
        {"customer": "cus_003", "date": "2026-01-01", "amount": 10, "currency": "zzz", "note": "currency"},
    ]
    return s
