"""Store content for report tests, inserted directly (no pull, no rules).

The Consio world below has hand-checked totals (minor units):
USD net revenue 350003, commission 70001 (pushed 30000, payable 20000, scheduled 20001,
reversed pair 20000 - 20000), clawbacks -30000; JPY one held entry of 20000.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.store.models import (
    Deal,
    Decision,
    Finding,
    LedgerEntry,
    Partner,
    Quarantine,
    Run,
    RunStreamStat,
)

SECRET_TAX_ID = "SENTINEL-TAXID-987654321"
SECRET_BANK = "SENTINEL-BANK-000123456789"
SECRET_IBAN = "DE89SENTINEL0532013000"
RUN_ID = "run-consio-1"
OLD_RUN_ID = "run-consio-0"


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


A1_NOTE = "invoice in_A1 paid 2026-02-03: amount paid 100,000 − tax 0 = net 100,000; basis 100,000 × 0.20 = 20,000"


def entry(
    key: str,
    *,
    partner: str = "part_ada",
    customer: str | None = "cust_acme",
    kind: str = "commission",
    basis: int,
    amount: int,
    rate: str = "0.20",
    currency: str = "usd",
    status: str,
    reason: str | None = None,
    sources: list[str] | None = None,
    event_at: str,
    reward: str | None = None,
    program: str = "consio",
    note: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        entry_key=f"{key}#0",
        group_key=key,
        seq=0,
        program=program,
        partnership_key=partner,
        customer_key=customer,
        kind=kind,
        basis_minor=basis,
        rate=rate,
        amount_minor=amount,
        currency=currency,
        status=status,
        reason=reason,
        sources=sources or [key.rsplit("|", 1)[-1]],
        event_at=t(event_at),
        payable_at=t(event_at),
        created_run_id=RUN_ID,
        created_at=t("2026-06-30T01:01:00Z"),
        platform_reward_key=reward,
        pushed_at=t("2026-06-30T01:02:00Z") if reward else None,
        pushed_run_id=RUN_ID if reward else None,
        push_state="sent" if reward else None,
        note=note,
        # as compute records it on every open entry already in the reward currency (USD)
        **({"payout_amount_minor": amount, "payout_currency": "usd", "fx_rate": "1", "fx_source": "same currency"}
           if currency == "usd" else {}),
    )


def _secret_raw() -> dict[str, Any]:
    return {"fields": {"tax_id": SECRET_TAX_ID, "bank_account_number": SECRET_BANK, "iban": SECRET_IBAN}}


def seed_consio(engine: Engine) -> None:
    g = "consio|part_ada|cust_acme"
    with Session(engine) as s, s.begin():
        s.add_all(
            [
                Run(id=OLD_RUN_ID, kind="sync", program="consio", as_of=t("2026-05-31T00:00:00Z"),
                    started_at=t("2026-05-31T01:00:00Z"), finished_at=t("2026-05-31T01:03:00Z"),
                    status="succeeded", notes=[]),
                Run(id=RUN_ID, kind="sync", program="consio", as_of=t("2026-06-30T00:00:00Z"),
                    started_at=t("2026-06-30T01:00:00Z"), finished_at=t("2026-06-30T01:05:00Z"),
                    status="succeeded", notes=["stripe: saved event position too old, re-read windows"]),
                RunStreamStat(run_id=RUN_ID, stream="partnerstack.partnerships", pulled=2, quarantined=0,
                              pages=1, requests=1, retries=0),
                RunStreamStat(run_id=RUN_ID, stream="stripe.invoices", pulled=6, quarantined=1,
                              pages=1, requests=2, retries=1),
                RunStreamStat(run_id=OLD_RUN_ID, stream="stripe.invoices", pulled=99),
                Quarantine(run_id=RUN_ID, source="stripe.invoices", source_id="in_BAD",
                           error="amount_paid: null amount", payload={"note": SECRET_BANK},
                           created_at=t("2026-06-30T01:01:00Z")),
                Quarantine(run_id=OLD_RUN_ID, source="stripe.refunds", source_id="re_OLD", error="old",
                           created_at=t("2026-05-31T01:01:00Z")),
                Finding(run_id=RUN_ID, program="consio", subject_key="cust_acme", code="margin_unknown",
                        detail="prod_x has no unit_cost"),
                Partner(key="part_ada", partner_key="ada", first_name="Ada", last_name="King",
                        company_name="Lovelace Advisory LLC", group_slug="master", country="US", tax_form="W-9",
                        tax_id_present=True, tax_id_last4="6789", bank_kind="account", bank_last4="4321",
                        raw=_secret_raw()),
                Partner(key="part_bob", partner_key="bob", first_name="Bob", last_name="Meyer",
                        group_slug="elite", country="JP", tax_form=None, tax_id_present=False,
                        bank_kind="iban", bank_last4="3000", raw=_secret_raw()),
                Decision(program="consio", submission_key="lead_acme_ada", submission_type="lead",
                         partnership_key="part_ada", customer_key="cust_acme", decision="qualified", reason=None,
                         submitted_at=t("2026-01-05T10:00:00Z"), run_id=RUN_ID),
                Decision(program="consio", submission_key="lead_acme_bob", submission_type="lead",
                         partnership_key="part_bob", customer_key=None, decision="rejected", reason="duplicate_lead",
                         submitted_at=t("2026-01-08T09:00:00Z"), run_id=RUN_ID),
                Decision(program="consio", submission_key="cust_tokyo", submission_type="customer",
                         partnership_key="part_bob", customer_key="cust_tokyo", decision="qualified", reason=None,
                         submitted_at=t("2026-01-08T09:00:00Z"), run_id=RUN_ID),
                Decision(program="consio", submission_key="lead_open", submission_type="lead",
                         partnership_key="part_ada", customer_key=None, decision="open", reason="not_converted",
                         submitted_at=None, run_id=RUN_ID),
                Decision(program="netsource", submission_key="lead_other", submission_type="lead",
                         partnership_key="part_ada", customer_key=None, decision="qualified", reason=None,
                         submitted_at=t("2026-01-01T00:00:00Z"), run_id=RUN_ID),
                entry(f"{g}|commission|in_A1", basis=100000, amount=20000, status="pushed", reward="rwd_1",
                      event_at="2026-02-03T00:00:00Z", note=A1_NOTE),
                entry(f"{g}|commission|in_A2", basis=100000, amount=20000, status="pushed", reward="rwd_2",
                      event_at="2026-03-02T00:00:00Z"),
                entry(f"{g}|clawback|re_A2", kind="clawback", basis=-50000, amount=-10000, status="pushed",
                      reward="rwd_3", sources=["re_A2", "in_A2"], event_at="2026-03-20T00:00:00Z"),
                entry(f"{g}|commission|in_A3", basis=100000, amount=20000, status="payable",
                      event_at="2026-04-02T00:00:00Z"),
                entry(f"{g}|commission|in_A4", basis=100003, amount=20001, status="scheduled",
                      reason="payable_after", event_at="2026-05-02T00:00:00Z"),
                entry(f"{g}|commission|in_A5", basis=100000, amount=20000, status="reversed",
                      event_at="2026-05-10T00:00:00Z"),
                entry(f"{g}|clawback|cn_A5", kind="clawback", basis=-100000, amount=-20000, status="reversed",
                      sources=["cn_A5", "in_A5"], event_at="2026-05-12T00:00:00Z"),
                entry("consio|part_bob|cust_tokyo|commission|in_T1", partner="part_bob", customer="cust_tokyo",
                      basis=100000, amount=20000, currency="jpy", status="held", reason="tax_form_missing",
                      event_at="2026-04-15T00:00:00Z"),
                entry("netsource|part_ada|cust_x|commission|in_X", program="netsource", customer="cust_x",
                      basis=5, amount=999999, status="payable", event_at="2026-04-15T00:00:00Z"),
            ]
        )


def add_entry(engine: Engine, row: LedgerEntry) -> None:
    with Session(engine) as s, s.begin():
        s.add(row)


def seed_tech_consultant(engine: Engine) -> None:
    """Q2 2026: part_b 2 referrals / 6,000.00; part_a 2 / 4,500.00; part_c and part_d 1 / 900.00 each."""
    program = "tech-consultant"
    deals = [
        ("part_a", "deal_a1", "2026-04-10T00:00:00Z", 150000, None),
        ("part_a", "deal_a2", "2026-05-01T00:00:00Z", 300000, None),
        ("part_b", "deal_b1", "2026-04-20T00:00:00Z", 250000, 100000),
        ("part_b", "deal_b2", "2026-06-30T23:59:59Z", 350000, None),
        ("part_c", "deal_c1", "2026-03-31T23:59:59Z", 50000, None),  # Q1
        ("part_c", "deal_c2", "2026-07-01T00:00:00Z", 70000, None),  # Q3
        ("part_c", "deal_c3", "2026-05-05T00:00:00Z", 90000, None),
        ("part_d", "deal_d1", "2026-06-01T00:00:00Z", 90000, None),
    ]
    with Session(engine) as s, s.begin():
        s.add(Run(id="run-tc", kind="sync", program=program, as_of=t("2026-06-30T12:00:00Z"),
                  started_at=t("2026-06-30T12:00:00Z"), status="succeeded", notes=[]))
        for partner, key in (("part_a", "Alpha"), ("part_b", "Beta"), ("part_c", "Gamma"), ("part_d", "Delta")):
            s.add(Partner(key=partner, company_name=f"{key} Consulting", raw={}))
        for partner, deal, closed, commission, bonus in deals:
            created = t(closed) - dt.timedelta(days=10)
            s.add(Deal(key=deal, partner_key=partner, stage="closed won", amount=commission * 20, currency="usd",
                       close_date=t(closed), created_at=created, raw={}))
            s.add(Decision(program=program, submission_key=deal, submission_type="deal", partnership_key=partner,
                           customer_key=deal, decision="qualified", submitted_at=created, run_id="run-tc"))
            s.add(entry(f"{program}|{partner}|{deal}|commission|{deal}", program=program, partner=partner,
                        customer=deal, basis=commission * 20, rate="0.05", amount=commission, status="scheduled",
                        reason="awaiting_first_payment", event_at=closed))
            if bonus:
                s.add(entry(f"{program}|{partner}|{deal}|bonus|{deal}", program=program, partner=partner,
                            customer=deal, kind="bonus", basis=0, rate="0", amount=bonus, status="scheduled",
                            reason="awaiting_first_payment", event_at=closed))
        # Signed in the quarter but rejected: not a successful referral.
        s.add(Deal(key="deal_c4", partner_key="part_c", stage="closed won", amount=10**9, currency="usd",
                   close_date=t("2026-05-20T00:00:00Z"), created_at=t("2026-01-01T00:00:00Z"), raw={}))
        s.add(Decision(program=program, submission_key="deal_c4", submission_type="deal", partnership_key="part_c",
                       customer_key="deal_c4", decision="rejected", reason="contract_window_expired",
                       submitted_at=t("2026-01-01T00:00:00Z"), run_id="run-tc"))
