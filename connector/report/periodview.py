"""A period report as a person reads it: the roll-forward's figures beside names, notes and links.

Why the figures come from the period's JSON body (`periodfmt.period_dict`, or the rendering kept
when the month was closed) and not from a `RollForward`: a closed month's XLSX and HTML must show
exactly what its kept JSON says, whatever is booked later. Only what is not a figure is looked up
when rendering: partner and customer names, each entry's note (the arithmetic written when it was
booked) and its Stripe sources, and where keys link (`[report]` settings). A partner renamed in
PartnerStack after the close therefore shows its new name; the numbers never move.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.report.build import _customers, _partners
from connector.report.readable import Links, Names
from connector.report.rollforward import CLOSING_STATES
from connector.report.sections import Cell, Linked, Money, Section
from connector.rules.reads.sql import in_lists
from connector.store.models import LedgerEntry

FIGURES = ("opening", "accrued", "taken_back", "paid", "closing")


@dataclass(frozen=True)
class Extras:
    """What a period report shows that is not a figure."""

    names: Names = field(default_factory=lambda: Names({}, {}, {}))
    notes: dict[str, str] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    links: Links = field(default_factory=Links)


def parse_body(text: str) -> dict[str, Any]:
    """A period JSON rendering back into the dict the renderers read (no float near money)."""
    body: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return body


def extras_of(session: Session, body: dict[str, Any], links: Links) -> Extras:
    """Names of the partners and customers the body shows, notes and sources of its entries."""
    partners = {line["partner_key"] for line in body["partners"]} | {m["partner_key"] for m in body["movements"]}
    customers = {m["customer_key"] for m in body["movements"] if m.get("customer_key")}
    return extras_for(session, partners, customers, {m["entry_key"] for m in body["movements"]}, links)


def extras_for(session: Session, partners: set[str], customers: set[str], entries: set[str], links: Links) -> Extras:
    notes: dict[str, str] = {}
    sources: dict[str, list[str]] = {}
    for chunk in in_lists(sorted(entries)):
        stmt = select(LedgerEntry.entry_key, LedgerEntry.note, LedgerEntry.sources).where(
            LedgerEntry.entry_key.in_(chunk))
        for key, note, source in session.execute(stmt):
            if note:
                notes[key] = note
            sources[key] = list(source or [])
    found = _customers(session, customers)
    names = Names(
        partners={p.key: p.name for p in _partners(session, partners) if p.name},
        customers={c.key: c.name for c in found if c.name},
        customer_stripe_ids={c.key: c.stripe_id for c in found if c.stripe_id},
    )
    return Extras(names, notes, sources, links)


def instant(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def title(body: dict[str, Any]) -> str:
    p = body["period"]
    return f"Roll-forward · {body['program']} · {p['label']}{' · closed' if p['closed'] else ''}"


def _line_cells(line: dict[str, Any]) -> list[Cell]:
    c = line["currency"]
    money = [Money(int(line[f"{name}_minor"]), c) for name in FIGURES]
    states = [Money(int(line["closing_by_state_minor"][s]), c) for s in CLOSING_STATES]
    return [c.upper(), *money, *states, int(line["entries_booked"]), "yes" if line["ties"] else "NO"]


LINE_COLUMNS = ["currency", *FIGURES, *(f"closing_{s}" for s in CLOSING_STATES), "entries_booked", "ties"]
MOVEMENT_COLUMNS = ["on_at", "what", "partner_key", "partner_name", "customer_key", "customer_name", "kind", "amount",
                    "currency", "corrects", "status_at_end", "sources", "entry_key", "note"]  # fmt: skip


def roll_forward_section(body: dict[str, Any]) -> Section:
    """Named by the report's title (the stacked sheet prints a section's name above it); the same
    columns as the partners' block under it, so each figure sits in one column of the sheet."""
    rows: list[list[Cell]] = [["all partners", None, *_line_cells(line)] for line in body["roll_forward"]]
    return Section(f"{title(body)} · per currency", ["partner_key", "partner_name", *LINE_COLUMNS], rows)


def partners_section(body: dict[str, Any], extras: Extras) -> Section:
    rows: list[list[Cell]] = []
    for line in body["partners"]:
        key = line["partner_key"]
        rows.append([Linked(key, extras.links.partner(key)), extras.names.partner(key), *_line_cells(line)])
    return Section("by_partner", ["partner_key", "partner_name", *LINE_COLUMNS], rows)


def movements_section(body: dict[str, Any], extras: Extras) -> Section:
    rows: list[list[Cell]] = []
    names, links = extras.names, extras.links
    for m in body["movements"]:
        partner, customer, key = m["partner_key"], m.get("customer_key"), m["entry_key"]
        sources = extras.sources.get(key, [])
        rows.append([
            instant(m["on"]), m["what"], Linked(partner, links.partner(partner)), names.partner(partner),
            Linked(customer, links.stripe(names.stripe_customer(customer))) if customer else None,
            names.customer(customer), m["kind"], Money(int(m["amount_minor"]), m["currency"]), m["currency"].upper(),
            m.get("corrects"), m["state_at_end"],
            Linked(" ".join(sources), links.stripe(sources[0]) if sources else None), key, extras.notes.get(key),
        ])  # fmt: skip
    return Section("movements", MOVEMENT_COLUMNS, rows)


def checks_section(body: dict[str, Any]) -> Section:
    rows: list[list[Cell]] = [[c["name"], c["currency"].upper(), "ok" if c["holds"] else "FAIL", c["statement"]]
                              for c in body["checks"]]  # fmt: skip
    return Section("checks", ["check", "currency", "holds", "statement"], rows)


def findings_section(body: dict[str, Any], extras: Extras) -> Section:
    rows: list[list[Cell]] = [[f["code"], Linked(f["partner_key"], extras.links.partner(f["partner_key"])),
                               extras.names.partner(f["partner_key"]), f["subject_key"], f["detail"]]
                              for f in body["findings"]]  # fmt: skip
    return Section("findings", ["code", "partner_key", "partner_name", "subject_key", "detail"], rows)
