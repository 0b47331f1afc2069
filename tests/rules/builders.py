"""Canonical store rows for rule tests, written straight into the DB (the fast path).

`World` collects rows with sensible defaults; `scenario_rows` turns a scenario file (the
sandbox's format) into the same canonical rows the pull would write, so scenario tests
run in milliseconds; the end-to-end tests check the real pull agrees.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import DeclarativeBase

from connector.config import Settings
from connector.context import RunContext
from connector.ledger.compute import ComputeResult, compute
from connector.rules.program import Program, bundled_program_path, load_program
from connector.store.db import session_factory, transaction
from connector.store.models import (
    BillingCustomer,
    CreditNote,
    Deal,
    Decision,
    Dispute,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    Lead,
    LedgerEntry,
    MarketingCost,
    Partner,
    Price,
    Product,
    Referral,
    Refund,
    Subscription,
    SubscriptionItem,
)
from connector.store.writes import upsert_rows

REPO = Path(__file__).resolve().parents[2]
UTC = dt.UTC


def t(text: str) -> dt.datetime:
    """'2026-02-03' or '2026-02-03T10:00:00Z' as an aware UTC datetime."""
    if len(text) == 10:
        return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def program(name: str) -> Program:
    return load_program(bundled_program_path(name))


class World:
    """Rows to insert; every builder returns the row so a test can tweak it."""

    def __init__(self) -> None:
        self.rows: dict[type[DeclarativeBase], list[dict[str, Any]]] = defaultdict(list)

    def add(self, model: type[DeclarativeBase], **row: Any) -> dict[str, Any]:
        self.rows[model].append(row)
        return row

    def partner(
        self,
        key: str,
        *,
        ref: str | None = None,
        group: str = "master",
        country: str | None = "US",
        tax_form: str | None = "W-9",
        tax_id: bool = True,
        bank: str | None = "account",
        email: str | None = None,
        company_name: str | None = "Partner Co LLC",
        company_website: str | None = "https://partner.example",
        city: str | None = "Boston",
        business_type: str | None = "consultancy",
        team_size: str | None = "4",
        number_of_clients: str | None = "25",
        referrer_relationship: str | None = None,
        created_at: str = "2025-01-01",
    ) -> dict[str, Any]:
        return self.add(
            Partner,
            key=key,
            partner_key=ref or key.removeprefix("part_"),
            email=email or f"{key}@{key}-partners.com",
            first_name="P",
            last_name=key,
            company_name=company_name,
            group_slug=group,
            country=country,
            company_website=company_website,
            city=city,
            business_type=business_type,
            team_size=team_size,
            number_of_clients=number_of_clients,
            referrer_relationship=referrer_relationship,
            tax_form=tax_form,
            tax_id_present=tax_id,
            bank_kind=bank,
            created_at=t(created_at),
            raw={},
        )

    def lead(
        self,
        key: str,
        partner_ref: str,
        created_at: str,
        *,
        external_key: str | None = None,
        company_name: str | None = None,
        email: str | None = None,
        domain: str | None = None,
        consent: bool | None = True,
    ) -> dict[str, Any]:
        return self.add(
            Lead,
            key=key,
            partner_key=partner_ref,
            external_key=external_key,
            status="open",
            company_name=company_name,
            email=email,
            domain=domain,
            consent=consent,
            created_at=t(created_at),
            raw={},
        )

    def referral(
        self,
        key: str,
        partnership_key: str,
        created_at: str,
        *,
        customer_key: str | None = None,
        provider_key: str | None = None,
        email: str | None = None,
        name: str | None = None,
        test: bool = False,
    ) -> dict[str, Any]:
        return self.add(
            Referral,
            key=key,
            customer_key=customer_key or key,
            partnership_key=partnership_key,
            partner_key=None,
            provider_key=provider_key,
            email=email,
            name=name,
            test=test,
            created_at=t(created_at),
            raw={},
        )

    def deal(
        self,
        key: str,
        partner_ref: str,
        created_at: str,
        *,
        amount: int,
        stage: str = "closed won",
        close_date: str | None = None,
        external_key: str | None = None,
        currency: str = "usd",
    ) -> dict[str, Any]:
        return self.add(
            Deal,
            key=key,
            partner_key=partner_ref,
            external_key=external_key,
            name=key,
            stage=stage,
            amount=amount,
            currency=currency,
            close_date=t(close_date) if close_date else None,
            created_at=t(created_at),
            raw={},
        )

    def product(self, pid: str, category: str | None = "software", unit_cost: int | None = None) -> dict[str, Any]:
        return self.add(Product, id=pid, name=pid, category=category, unit_cost=unit_cost, raw={})

    def price(
        self,
        pid: str,
        product: str,
        unit_amount: int,
        *,
        type: str = "recurring",
        interval: str | None = "month",
        interval_count: int = 1,
        currency: str = "usd",
    ) -> dict[str, Any]:
        return self.add(
            Price,
            id=pid,
            product_id=product,
            currency=currency,
            unit_amount=unit_amount,
            type=type,
            interval=interval if type == "recurring" else None,
            interval_count=interval_count if type == "recurring" else None,
            raw={},
        )

    def customer(self, cid: str, email: str | None = None, name: str | None = None) -> dict[str, Any]:
        return self.add(BillingCustomer, id=cid, email=email, name=name, raw={})

    def subscription(
        self,
        sid: str,
        customer: str,
        start: str,
        items: list[tuple[str, int]],
        *,
        term_months: int | None = None,
        currency: str = "usd",
    ) -> dict[str, Any]:
        """items: (price id, quantity); the price must already be in the world."""
        prices = {p["id"]: p for p in self.rows[Price]}
        for n, (price_id, qty) in enumerate(items):
            p = prices[price_id]
            self.add(
                SubscriptionItem,
                id=f"si_{sid}_{n}",
                subscription_id=sid,
                price_id=price_id,
                product_id=p["product_id"],
                quantity=qty,
                unit_amount=p["unit_amount"],
                currency=p["currency"],
                price_type=p["type"],
                interval=p["interval"],
                interval_count=p["interval_count"],
            )
        return self.add(
            Subscription,
            id=sid,
            customer_id=customer,
            status="active",
            currency=currency,
            start_date=t(start),
            created=t(start),
            term_months=term_months,
            raw={},
        )

    def invoice(
        self,
        iid: str,
        customer: str,
        created: str,
        *,
        paid_at: str | None = None,
        amount_paid: int | None = None,
        tax: int = 0,
        lines: list[tuple[str | None, int]] | None = None,
        status: str | None = None,
        due_date: str | None = None,
        amount_due: int | None = None,
        currency: str = "usd",
        pi: str | None = None,
    ) -> dict[str, Any]:
        """lines: (price id or None, amount); amount_paid defaults to Σ lines + tax when paid."""
        lines = lines or []
        prices = {p["id"]: p for p in self.rows[Price]}
        subtotal = sum(a for _, a in lines)
        total = subtotal + tax
        status = status or ("paid" if paid_at else "open")
        due = amount_due if amount_due is not None else total
        paid = amount_paid if amount_paid is not None else (due if status == "paid" else 0)
        for n, (price_id, amount) in enumerate(lines):
            self.add(
                InvoiceLine,
                id=f"il_{iid}_{n}",
                invoice_id=iid,
                amount=amount,
                currency=currency,
                quantity=1,
                price_id=price_id,
                product_id=prices[price_id]["product_id"] if price_id else None,
            )
        self.add(
            InvoicePayment,
            id=f"inpay_{iid}",
            invoice_id=iid,
            payment_intent=pi or f"pi_{iid}",
            charge=f"ch_{iid}",
            amount_paid=paid,
            currency=currency,
            status="paid" if paid_at else "open",
        )
        return self.add(
            Invoice,
            id=iid,
            customer_id=customer,
            currency=currency,
            status=status,
            created=t(created),
            due_date=t(due_date) if due_date else None,
            paid_at=t(paid_at) if paid_at else None,
            amount_due=due,
            amount_paid=paid,
            amount_remaining=due - paid,
            subtotal=subtotal,
            total=total,
            tax=tax,
            raw={},
        )

    def refund(self, rid: str, invoice: str, amount: int, created: str, currency: str = "usd") -> dict[str, Any]:
        return self.add(
            Refund,
            id=rid,
            payment_intent=f"pi_{invoice}",
            charge=f"ch_{invoice}",
            amount=amount,
            currency=currency,
            status="succeeded",
            created=t(created),
            raw={},
        )

    def dispute(self, did: str, invoice: str, amount: int, created: str, status: str = "lost") -> dict[str, Any]:
        return self.add(
            Dispute,
            id=did,
            payment_intent=f"pi_{invoice}",
            charge=f"ch_{invoice}",
            amount=amount,
            currency="usd",
            status=status,
            created=t(created),
            raw={},
        )

    def credit_note(
        self,
        cid: str,
        invoice: str,
        total: int,
        total_excluding_tax: int,
        created: str,
        *,
        type: str = "post_payment",
        refunds: list[str] | None = None,
    ) -> dict[str, Any]:
        return self.add(
            CreditNote,
            id=cid,
            invoice_id=invoice,
            customer_id=None,
            currency="usd",
            type=type,
            status="issued",
            total=total,
            total_excluding_tax=total_excluding_tax,
            post_payment_amount=total if type != "pre_payment" else 0,
            refund_ids=refunds or [],
            created=t(created),
            raw={},
        )

    def cost(self, customer: str, date: str, amount: int, note: str = "cost", currency: str = "usd") -> dict[str, Any]:
        digest = hashlib.sha256(f"{customer}|{date}|{amount}|{currency}|{note}".encode()).hexdigest()[:32]
        return self.add(
            MarketingCost,
            id=f"mc_{digest}",
            customer_id=customer,
            date=t(date),
            amount=amount,
            currency=currency,
            note=note,
        )

    def save(self, engine: Engine) -> None:
        with transaction(session_factory(engine)) as s:
            for model, rows in self.rows.items():
                upsert_rows(s, model, rows)


def context(
    engine: Engine, as_of: dt.datetime | str, run_id: str | None = None, settings: Settings | None = None
) -> RunContext:
    return RunContext(
        settings=settings or Settings(),
        engine=engine,
        sessions=session_factory(engine),
        run_id=run_id or str(uuid.uuid4()),
        kind="sync",
        as_of=t(as_of) if isinstance(as_of, str) else as_of,
    )


def run(
    engine: Engine, prog: Program | str, as_of: dt.datetime | str, settings: Settings | None = None
) -> ComputeResult:
    return compute(context(engine, as_of, settings=settings), program(prog) if isinstance(prog, str) else prog)


def fx_settings(path: Path, rows: str, **partnerstack: str) -> Settings:
    """Settings whose `[finance] fx_rates_file` is `path`, written with `rows` under the header."""
    path.write_text("date,currency,rate\n" + rows)
    return Settings(finance={"fx_rates_file": str(path)}, partnerstack=partnerstack)


def entries(engine: Engine, program_name: str | None = None) -> list[LedgerEntry]:
    with session_factory(engine)() as s:
        q = select(LedgerEntry).order_by(LedgerEntry.group_key, LedgerEntry.seq)
        if program_name:
            q = q.where(LedgerEntry.program == program_name)
        return list(s.scalars(q))


def decisions(engine: Engine, program_name: str) -> dict[str, Decision]:
    with session_factory(engine)() as s:
        return {d.submission_key: d for d in s.scalars(select(Decision).where(Decision.program == program_name))}


def group_sums(engine: Engine, program_name: str | None = None) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for e in entries(engine, program_name):
        sums[e.group_key] += e.amount_minor
    return {k: v for k, v in sums.items() if v}


# ---------------------------------------------------------------- scenario files -> canonical rows


def load_scenario(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(), parse_float=Decimal)  # type: ignore[no-any-return]


def _time(value: Any, unit_ms: bool = False) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / (1000 if unit_ms else 1), tz=UTC)
    return t(str(value))


def scenario_rows(doc: dict[str, Any]) -> World:
    """The canonical rows the pull would write for a scenario (default mapping)."""
    w = World()
    ps, st = doc.get("partnerstack", {}), doc.get("stripe", {})
    for p in ps.get("partnerships", []):
        f = p.get("fields", {}) or {}
        w.add(
            Partner,
            key=p["key"],
            partner_key=p.get("partner_key"),
            email=p.get("email"),
            first_name=p.get("first_name"),
            last_name=p.get("last_name"),
            company_name=p.get("company_name"),
            group_slug=(p.get("group") or {}).get("slug"),
            country=(p.get("address") or {}).get("country") or f.get("country"),
            company_website=f.get("company_website"),
            city=f.get("city"),
            business_type=f.get("business_type"),
            team_size=_s(f.get("team_size")),
            number_of_clients=_s(f.get("number_of_clients")),
            referrer_relationship=f.get("referrer_relationship"),
            tax_form=f.get("tax_form"),
            tax_id_present=bool(f.get("tax_id")),
            bank_kind="iban"
            if f.get("iban")
            else ("account" if f.get("bank_routing_number") else "account_only")
            if f.get("bank_account_number")
            else None,
            created_at=_time(p.get("created_at")),
            raw={},
        )
    for ld in ps.get("leads", []):
        f = ld.get("fields", {}) or {}
        w.add(
            Lead,
            key=ld["key"],
            partner_key=ld.get("partner_key"),
            external_key=ld.get("external_key"),
            status=ld.get("status"),
            company_name=f.get("company_name"),
            email=f.get("email"),
            domain=f.get("domain"),
            consent=f.get("consent"),
            created_at=_time(ld.get("created_at")),
            raw={},
        )
    for d in ps.get("deals", []):
        w.add(
            Deal,
            key=d["key"],
            partner_key=d.get("partner_key"),
            external_key=d.get("external_key"),
            name=d.get("name"),
            stage=d.get("stage"),
            amount=d.get("amount"),
            currency=d.get("currency") or "usd",
            close_date=_time(d.get("close_date")),
            created_at=_time(d.get("created_at")),
            raw={},
        )
    for c in ps.get("customers", []):
        w.add(
            Referral,
            key=c["key"],
            customer_key=c.get("customer_key"),
            partnership_key=c.get("partnership_key"),
            partner_key=c.get("partner_key"),
            provider_key=c.get("provider_key"),
            email=c.get("email"),
            name=c.get("name"),
            test=bool(c.get("test")),
            created_at=_time(c.get("created_at")),
            raw={},
        )
    for p in st.get("products", []):
        md = p.get("metadata", {}) or {}
        cost = md.get("unit_cost")
        w.add(
            Product,
            id=p["id"],
            name=p.get("name"),
            category=md.get("category"),
            unit_cost=int(cost) if cost is not None else None,
            raw={},
        )
    prices = {}
    for p in st.get("prices", []):
        rec = p.get("recurring") or {}
        prices[p["id"]] = w.add(
            Price,
            id=p["id"],
            product_id=p.get("product"),
            currency=p.get("currency"),
            unit_amount=p.get("unit_amount"),
            type=p.get("type") or ("recurring" if rec else "one_time"),
            interval=rec.get("interval"),
            interval_count=rec.get("interval_count"),
            raw={},
        )
    for c in st.get("customers", []):
        w.add(
            BillingCustomer,
            id=c["id"],
            email=c.get("email"),
            name=c.get("name"),
            created=_time(c.get("created")),
            raw={},
        )
    for s in st.get("subscriptions", []):
        items = s.get("items", [])
        items = items.get("data", []) if isinstance(items, dict) else items
        for n, it in enumerate(items):
            price = it.get("price")
            price = prices.get(price, {}) if isinstance(price, str) else _price_row(price or {})
            w.add(
                SubscriptionItem,
                id=it.get("id") or f"si_{s['id']}_{n}",
                subscription_id=s["id"],
                price_id=price.get("id"),
                product_id=price.get("product_id"),
                quantity=it.get("quantity", 1),
                unit_amount=price.get("unit_amount"),
                currency=price.get("currency"),
                price_type=price.get("type"),
                interval=price.get("interval"),
                interval_count=price.get("interval_count"),
            )
        md = s.get("metadata", {}) or {}
        w.add(
            Subscription,
            id=s["id"],
            customer_id=s.get("customer"),
            status=s.get("status"),
            currency=s.get("currency"),
            start_date=_time(s.get("start_date")),
            created=_time(s.get("created") or s.get("start_date")),
            term_months=int(md["term_months"]) if md.get("term_months") else None,
            raw={},
        )
    for inv in st.get("invoices", []):
        lines = inv.get("lines", [])
        lines = lines.get("data", []) if isinstance(lines, dict) else lines
        for n, ln in enumerate(lines):
            pd = ((ln.get("pricing") or {}).get("price_details")) or {}
            w.add(
                InvoiceLine,
                id=ln.get("id") or f"il_{inv['id']}_{n}",
                invoice_id=inv["id"],
                amount=ln.get("amount", 0),
                currency=ln.get("currency"),
                quantity=ln.get("quantity"),
                price_id=pd.get("price"),
                product_id=pd.get("product"),
                description=ln.get("description"),
            )
        tr = inv.get("status_transitions") or {}
        due = inv.get("amount_due", 0)
        paid = inv.get("amount_paid", 0)
        w.add(
            Invoice,
            id=inv["id"],
            customer_id=inv.get("customer"),
            subscription_id=None,
            currency=inv["currency"],
            status=inv.get("status"),
            created=_time(inv.get("created")),
            due_date=_time(inv.get("due_date")),
            paid_at=_time(tr.get("paid_at")),
            amount_due=due,
            amount_paid=paid,
            amount_remaining=inv.get("amount_remaining", due - paid),
            subtotal=inv.get("subtotal"),
            total=inv.get("total"),
            tax=sum(x.get("amount", 0) for x in inv.get("total_taxes") or []),
            raw={},
        )
    for ip in st.get("invoice_payments", []):
        pay = ip.get("payment") or {}
        w.add(
            InvoicePayment,
            id=ip["id"],
            invoice_id=ip.get("invoice"),
            payment_intent=pay.get("payment_intent"),
            charge=pay.get("charge"),
            amount_paid=ip.get("amount_paid"),
            currency=ip.get("currency"),
            status=ip.get("status"),
        )
    for r in st.get("refunds", []):
        w.add(
            Refund,
            id=r["id"],
            payment_intent=r.get("payment_intent"),
            charge=r.get("charge"),
            amount=r["amount"],
            currency=r["currency"],
            status=r.get("status", "succeeded"),
            created=_time(r.get("created")),
            raw={},
        )
    for d in st.get("disputes", []):
        w.add(
            Dispute,
            id=d["id"],
            payment_intent=d.get("payment_intent"),
            charge=d.get("charge"),
            amount=d["amount"],
            currency=d["currency"],
            status=d.get("status"),
            created=_time(d.get("created")),
            raw={},
        )
    for cn in st.get("credit_notes", []):
        refunds = [x.get("refund") if isinstance(x, dict) else x for x in cn.get("refunds", [])]
        w.add(
            CreditNote,
            id=cn["id"],
            invoice_id=cn.get("invoice"),
            customer_id=cn.get("customer"),
            currency=cn["currency"],
            type=cn.get("type"),
            status=cn.get("status", "issued"),
            total=cn.get("total", 0),
            total_excluding_tax=cn.get("total_excluding_tax", cn.get("total", 0)),
            post_payment_amount=cn.get("post_payment_amount"),
            refund_ids=[r for r in refunds if r],
            created=_time(cn.get("created")),
            raw={},
        )
    for c in (doc.get("finance") or {}).get("marketing_costs", []):
        w.cost(c["customer"], str(c["date"]), int(c["amount"]), c.get("note") or "cost", c.get("currency", "usd"))
    return w


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _price_row(price: dict[str, Any]) -> dict[str, Any]:
    rec = price.get("recurring") or {}
    return {
        "id": price.get("id"),
        "product_id": price.get("product"),
        "unit_amount": price.get("unit_amount"),
        "currency": price.get("currency"),
        "type": price.get("type") or ("recurring" if rec else "one_time"),
        "interval": rec.get("interval"),
        "interval_count": rec.get("interval_count"),
    }
