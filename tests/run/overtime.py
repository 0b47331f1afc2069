"""Run-over-run kit for programs.md "Changes after the fact": a small sandbox world built in code, and
a connector that syncs it, lets the test change it (`/_sandbox/apply`), syncs again.

After every run the kit checks that a full recompute over the same database appends and moves
nothing (incremental and full agree), so each test only states the ledger and the platform's
rewards it expects.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import adapters.partnerstack.rewards as rewards_mod
from connector.config import Settings
from connector.ledger.compute import compute
from connector.rules.program import load_program
from connector.run.runner import RunOutcome, run_once
from connector.store.models import Finding, LedgerEntry, MarketingCost
from sandbox.server import SandboxServer
from tests.rules.builders import context

from .conftest import make_settings

FIELDS = {
    "tax_form": "W-9", "tax_id": "123-45-6789", "bank_account_number": "000123456789",
    "bank_routing_number": "021000021", "company_website": "https://partner.example", "city": "Boston",
    "country": "US", "business_type": "consultancy", "team_size": "4", "number_of_clients": "25",
    "referrer_relationship": "customer",
}  # fmt: skip


def _price_details(price: str | None, product: str | None) -> dict[str, Any]:
    return {"type": "price_details", "price_details": {"price": price, "product": product}}


class Scenario:
    """A sandbox scenario (scenarios.md) built a record at a time, in USD."""

    def __init__(self, now: str) -> None:
        self.doc: dict[str, Any] = {
            "name": "after-the-fact",
            "now": now,
            "partnerstack": {"groups": [], "partnerships": [], "leads": [], "deals": [], "customers": []},
            "stripe": {
                "products": [], "prices": [], "customers": [], "subscriptions": [], "invoices": [],
                "credit_notes": [], "refunds": [], "disputes": [], "invoice_payments": [],
            },
        }  # fmt: skip
        self._prices: dict[str, dict[str, Any]] = {}

    def _ps(self, name: str) -> list[dict[str, Any]]:
        return self.doc["partnerstack"][name]  # type: ignore[no-any-return]

    def _st(self, name: str) -> list[dict[str, Any]]:
        return self.doc["stripe"][name]  # type: ignore[no-any-return]

    def group(self, slug: str) -> None:
        self._ps("groups").append({"key": f"grup_{slug}", "name": slug.title(), "slug": slug,
                                   "created_at": "2025-01-01T00:00:00Z"})  # fmt: skip

    def partner(self, name: str, group: str = "master", **fields: Any) -> str:
        if not any(g["slug"] == group for g in self._ps("groups")):
            self.group(group)
        self._ps("partnerships").append({
            "key": f"part_{name}", "partner_key": name, "email": f"{name}@{name}-partners.com",
            "first_name": name.title(), "last_name": "Partner", "company_name": f"{name.title()} Partners LLC",
            "group": {"key": f"grup_{group}", "name": group.title(), "slug": group}, "address": {"country": "US"},
            "created_at": "2025-11-01T00:00:00Z", "fields": {**FIELDS, **fields},
        })  # fmt: skip
        return f"part_{name}"

    def referral(self, partner: str, company: str, at: str, *, lead_key: str | None = None) -> str:
        """A lead by `partner` for `company` (domain `<company>.io`) and its PartnerStack customer, billed as
        `cus_<company>`; returns the Stripe customer id."""
        cus = f"cus_{company}"
        self._ps("leads").append({
            "key": lead_key or f"lead_{company}_{partner}", "partner_key": partner, "created_at": at,
            "external_key": f"{company}-key", "status": "closed won",
            "fields": {"company_name": f"{company.title()} Corp", "email": f"cfo@{company}.io", "consent": True},
        })  # fmt: skip
        if not any(c["provider_key"] == cus for c in self._ps("customers")):
            self._ps("customers").append({
                "key": f"cust_{company}", "customer_key": f"{company}-key", "partnership_key": f"part_{partner}",
                "partner_key": partner, "email": f"cfo@{company}.io", "name": f"{company.title()} Corp",
                "provider_key": cus, "created_at": at, "test": False,
            })  # fmt: skip
            name = f"{company.title()} Corp"
            self._st("customers").append({"id": cus, "email": f"billing@{company}.io", "name": name,
                                          "created": "2025-06-01T00:00:00Z"})  # fmt: skip
        return cus

    def stripe_customer(self, cus: str) -> str:
        self._st("customers").append({"id": cus, "email": f"billing@{cus}.io", "name": cus,
                                      "created": "2025-06-01T00:00:00Z"})  # fmt: skip
        return cus

    def product(self, pid: str, category: str = "software", unit_cost: int | None = None) -> None:
        meta = {"category": category} | ({"unit_cost": str(unit_cost)} if unit_cost is not None else {})
        self._st("products").append({"id": pid, "name": pid, "metadata": meta})

    def price(self, pid: str, product: str, unit_amount: int, interval: str | None = "month") -> None:
        price: dict[str, Any] = {"id": pid, "product": product, "currency": "usd", "unit_amount": unit_amount,
                                 "type": "recurring" if interval else "one_time"}  # fmt: skip
        if interval:
            price["recurring"] = {"interval": interval, "interval_count": 1}
        self._st("prices").append(price)
        self._prices[pid] = price

    def subscription(self, sid: str, cus: str, start: str, items: list[tuple[str, str, int]], **extra: Any) -> None:
        self._st("subscriptions").append({
            "id": sid, "customer": cus, "status": "active", "currency": "usd", "start_date": start, "created": start,
            "items": [{"id": i, "price": p, "quantity": q} for i, p, q in items], **extra,
        })  # fmt: skip

    def invoice(
        self, iid: str, cus: str, created: str, lines: list[tuple[str | None, int]], *, paid_at: str | None = None,
        tax: int = 0, due_date: str | None = None, status: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        net = sum(amount for _, amount in lines)
        total = net + tax
        paid = paid_at is not None
        inv: dict[str, Any] = {
            "id": iid, "customer": cus, "currency": "usd", "status": status or ("paid" if paid else "open"),
            "created": created, "subtotal": net, "total": total, "amount_due": total,
            "amount_paid": total if paid else 0,
            "total_taxes": [{"amount": tax, "tax_behavior": "exclusive", "taxability_reason": "standard_rated"}]
            if tax else [],
            "status_transitions": {"finalized_at": created, "paid_at": paid_at},
            "lines": [
                {"id": f"il_{iid}_{n}", "amount": amount, "currency": "usd", "quantity": 1,
                 "pricing": _price_details(price, self._prices[price]["product"] if price else None)}
                for n, (price, amount) in enumerate(lines)
            ],
        }  # fmt: skip
        if due_date:
            inv["due_date"] = due_date
        self._st("invoices").append(inv)
        self._st("invoice_payments").append({
            "id": f"inpay_{iid}", "invoice": iid, "amount_paid": total if paid else 0, "currency": "usd",
            "status": "paid" if paid else "open", "payment": {"type": "payment_intent", "payment_intent": f"pi_{iid}"},
        })  # fmt: skip
        return inv

    def refund(self, rid: str, iid: str, amount: int, created: str, status: str = "succeeded") -> None:
        self._st("refunds").append({"id": rid, "payment_intent": f"pi_{iid}", "charge": f"ch_{iid}", "amount": amount,
                                    "currency": "usd", "status": status, "created": created})  # fmt: skip

    def dispute(self, did: str, iid: str, amount: int, created: str, status: str = "lost") -> None:
        self._st("disputes").append({"id": did, "payment_intent": f"pi_{iid}", "charge": f"ch_{iid}",
                                     "amount": amount, "currency": "usd", "status": status,
                                     "created": created, "reason": "fraudulent"})  # fmt: skip

    def credit_note(self, cid: str, iid: str, amount: int, created: str) -> None:
        self._st("credit_notes").append({
            "id": cid, "invoice": iid, "currency": "usd", "status": "issued", "type": "post_payment",
            "created": created, "total": amount, "subtotal": amount, "total_excluding_tax": amount, "amount": amount,
            "refunds": [], "lines": [],
        })  # fmt: skip

    def deal(self, key: str, partner: str, created: str, amount: int, close: str, cus: str,
             stage: str = "closed won") -> None:  # fmt: skip
        self._ps("deals").append({"key": key, "partner_key": partner, "name": f"Project {key}", "stage": stage,
                                  "amount": amount, "created_at": created, "external_key": cus,
                                  "close_date": close})  # fmt: skip


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day.replace("Z", "+00:00")).replace(tzinfo=dt.UTC)


class Connector:
    """One database, one program, one sandbox: sync as of a time, then look at the ledger and the platform."""

    def __init__(
        self, server: SandboxServer, database_url: str, engine: Engine, program: str, tmp_path: Path,
        **sections: dict[str, Any],
    ) -> None:  # fmt: skip
        self.server, self.engine, self.tmp_path = server, engine, tmp_path
        self.program_file = f"programs/{program}.toml"
        self.sections = sections
        self.settings: Settings = make_settings(database_url, server, program={"file": self.program_file}, **sections)
        self.runs = 0

    def apply(self, change: dict[str, Any]) -> None:
        httpx.post(f"{self.server.url}/_sandbox/apply", json=change, timeout=30).raise_for_status()

    def sync(self, as_of: str) -> RunOutcome:
        """One incremental sync (pull, compute, push); then a full recompute must find nothing to do."""
        outcome = run_once(self.settings, as_of=at(as_of))
        assert outcome.status == "succeeded", outcome.notes
        self.runs += 1
        full = compute(context(self.engine, at(as_of), f"full-check-{self.runs}", self.settings),
                       load_program(self.program_file))  # fmt: skip
        assert (full.entries_appended, full.statuses_changed, full.reversed) == (0, 0, 0), "full recompute differs"
        return outcome

    def ledger(self) -> list[tuple[str, str, int, str, str | None]]:
        """(entry key without the program, kind, amount, status, reason), in key order."""
        with Session(self.engine) as s:
            rows = s.scalars(select(LedgerEntry).order_by(LedgerEntry.entry_key))
            return [(e.entry_key.split("|", 1)[1], e.kind, e.amount_minor, e.status, e.reason) for e in rows]

    def named(self) -> list[tuple[str, str, int, str]]:
        """(source#seq, kind, amount, status), sorted, with a cost's id shown as its note."""
        with Session(self.engine) as s:
            names = {i: note for i, note in s.execute(select(MarketingCost.id, MarketingCost.note)).all()}
        out = []
        for key, kind, amount, status, _ in self.ledger():
            group, seq = key.split("|")[3].split("#")
            out.append((f"{names.get(group) or group}#{seq}", kind, amount, status))
        return sorted(out)

    def notes(self) -> dict[str, str | None]:
        with Session(self.engine) as s:
            return {e.entry_key.split("|", 1)[1]: e.note for e in s.scalars(select(LedgerEntry))}

    def rewards(self) -> list[tuple[str, int]]:
        """The platform's rewards: (the entry each carries, without the program; amount), in entry order."""
        body = httpx.get(f"{self.server.url}/_sandbox/rewards", timeout=10).json()
        out = []
        for reward in body["data"]:
            (key,) = rewards_mod.embedded_entry_keys(reward)
            out.append((key.split("|", 1)[1], reward["amount"]))
        return sorted(out)

    def findings(self, run_id: str) -> list[tuple[str, str, str]]:
        with Session(self.engine) as s:
            stmt = select(Finding.subject_key, Finding.code, Finding.detail).where(Finding.run_id == run_id)
            return sorted((a, b, c) for a, b, c in s.execute(stmt).all())
