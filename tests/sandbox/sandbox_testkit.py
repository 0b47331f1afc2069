"""Helpers for the sandbox tests: a generated scenario, keys, authenticated httpx clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "reference" / "stripe-fixtures3.json"
CONSIO = SHARED / "spec" / "examples" / "consio-example.json"
STRIPE_KEY = "sk_test_sandbox"
PS_AUTH = ("pk_sandbox", "sk_sandbox")
DAY = 86400
BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def build_world(customers: int = 25, invoices: int = 30, lines_on_first: int = 25) -> dict[str, Any]:
    """A scenario with more of each object than one page, and one invoice with many lines."""
    stripe: dict[str, list[Any]] = {
        "products": [{"id": f"prod_{i:03d}", "name": f"Product {i}", "metadata": {"category": "software",
                                                                               "unit_cost": 1200}}
                     for i in range(12)],
        "prices": [{"id": f"price_{i:03d}", "product": f"prod_{i:03d}", "currency": "usd", "unit_amount": 1000,
                    "type": "recurring", "recurring": {"interval": "month", "interval_count": 1}}
                   for i in range(12)],
        "customers": [{"id": f"cus_{i:03d}", "email": f"c{i}@example.com", "created": BASE + i * DAY}
                      for i in range(customers)],
        "subscriptions": [{"id": f"sub_{i:03d}", "customer": f"cus_{i:03d}", "status": "canceled" if i == 0 else
                           "active", "created": BASE + i * DAY, "metadata": {"term_months": 12},
                           "items": [{"id": f"si_{i:03d}", "price": f"price_{i % 12:03d}", "quantity": 1}]}
                          for i in range(12)],
        "invoices": [], "invoice_payments": [], "credit_notes": [], "refunds": [], "disputes": [],
    }
    for i in range(invoices):
        n_lines = lines_on_first if i == 0 else 1
        created = f"2026-02-{1 + i % 27:02d}T{i % 24:02d}:00:00Z"
        stripe["invoices"].append({
            "id": f"in_{i:03d}", "customer": f"cus_{i % customers:03d}", "currency": "usd", "status": "paid",
            "created": created, "subtotal": 1000 * n_lines, "total": 1080 * n_lines, "amount_due": 1080 * n_lines,
            "amount_paid": 1080 * n_lines, "total_taxes": [{"amount": 80 * n_lines, "tax_behavior": "exclusive"}],
            "status_transitions": {"finalized_at": created, "paid_at": created},
            "lines": [{"id": f"il_{i:03d}_{j:02d}", "amount": 1000, "currency": "usd", "quantity": 1,
                       "pricing": {"type": "price_details", "price_details": {"price": "price_000",
                                                                             "product": "prod_000"}}}
                      for j in range(n_lines)],
        })
        stripe["invoice_payments"].append({"id": f"inpay_{i:03d}", "invoice": f"in_{i:03d}",
                                           "amount_paid": 1080 * n_lines, "currency": "usd", "status": "paid",
                                           "payment": {"type": "payment_intent", "payment_intent": f"pi_{i:03d}"}})
    for i in range(15):
        stripe["credit_notes"].append({"id": f"cn_{i:03d}", "invoice": f"in_{i:03d}", "customer": f"cus_{i:03d}",
                                       "amount": 100, "currency": "usd", "created": BASE + 40 * DAY + i,
                                       "lines": [{"id": f"cnli_{i:03d}", "amount": 100, "type": "custom_line_item"}]})
        stripe["refunds"].append({"id": f"re_{i:03d}", "payment_intent": f"pi_{i:03d}", "charge": f"ch_{i:03d}",
                                  "amount": 540, "currency": "usd", "status": "succeeded",
                                  "created": BASE + 50 * DAY + i})
    for i in range(12):
        stripe["disputes"].append({"id": f"dp_{i:03d}", "payment_intent": f"pi_{20 + i:03d}",
                                   "charge": f"ch_{20 + i:03d}", "amount": 1080, "currency": "usd",
                                   "status": "needs_response", "reason": "fraudulent",
                                   "created": BASE + 60 * DAY + i})
    partnerships = [{"key": f"part_{i:03d}", "partner_key": f"p{i:03d}", "email": f"p{i}@partners.example",
                     "group": {"key": "grup_master", "name": "Master", "slug": "master"},
                     "created_at": f"2025-11-{1 + i:02d}T00:00:00Z"} for i in range(25)]
    ps_customers = [{"key": f"cust_{i:03d}", "customer_key": f"ck{i:03d}", "partnership_key": f"part_{i:03d}",
                     "partner_key": f"p{i:03d}", "provider_key": f"cus_{i:03d}",
                     "created_at": f"2026-01-{1 + i:02d}T00:00:00Z"} for i in range(25)]
    return {
        "name": "sandbox-world",
        "now": "2026-06-30T00:00:00Z",
        "partnerstack": {
            "groups": [{"key": "grup_master", "name": "Master", "slug": "master", "created_at": "2025-01-01"}],
            "partnerships": partnerships,
            "customers": ps_customers,
            "leads": [{"key": f"lead_{i:03d}", "partner_key": f"p{i:03d}", "created_at": f"2026-01-{1 + i:02d}",
                       "fields": {"company_name": f"Co {i}"}} for i in range(25)],
        },
        "stripe": stripe,
        "finance": {"marketing_costs": [{"customer": "cus_000", "date": "2026-02-01", "amount": 5000,
                                         "currency": "usd", "note": "trade show"}]},
    }


def stripe_client(srv: SandboxServer) -> httpx.Client:
    """httpx client for the sandbox's Stripe API."""
    return httpx.Client(base_url=srv.stripe_url, headers={"Authorization": f"Bearer {STRIPE_KEY}"}, timeout=10)


def ps_client(srv: SandboxServer) -> httpx.Client:
    """httpx client for the sandbox's PartnerStack API."""
    return httpx.Client(base_url=srv.partnerstack_url, auth=PS_AUTH, timeout=10)
