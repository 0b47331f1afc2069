"""Subscription items list, expand rules (refusals, includable ``payments``), tax / refund item ``type``."""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from sandbox_testkit import STRIPE_KEY, build_world, stripe_client

from sandbox.expandable import EXPANDABLE, LISTS
from sandbox.server import SandboxServer

SDK = Path(stripe.__file__).parent


def big_sub_world() -> dict[str, Any]:
    world = copy.deepcopy(build_world())
    world["stripe"]["subscriptions"].append({
        "id": "sub_big", "customer": "cus_001", "status": "active", "created": "2026-01-05T00:00:00Z",
        "items": [{"id": f"si_big_{j:02d}", "price": f"price_{j % 12:03d}", "quantity": 1} for j in range(25)]})
    world["stripe"]["credit_notes"].append({
        "id": "cn_ref", "invoice": "in_001", "customer": "cus_001", "amount": 540, "currency": "usd",
        "created": "2026-03-01T00:00:00Z", "refunds": [{"refund": "re_001", "amount_refunded": 540}],
        "total_taxes": [{"amount": 40, "tax_behavior": "exclusive", "taxable_amount": 500}]})
    return world


@pytest.fixture(scope="module")
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(big_sub_world()) as server:
        yield server


@pytest.fixture()
def client(srv: SandboxServer) -> stripe.StripeClient:
    return stripe.StripeClient(STRIPE_KEY, base_addresses={"api": srv.url + "/stripe"}, max_network_retries=0)


# ----- subscription items ---------------------------------------------------------------------------
def test_subscription_items_list_envelope_and_paging(srv: SandboxServer) -> None:
    with stripe_client(srv) as http:
        sub = http.get("/subscriptions/sub_big").json()
        assert len(sub["items"]["data"]) == 10 and sub["items"]["has_more"] is True
        assert sub["items"]["url"] == "/v1/subscription_items?subscription=sub_big"
        page = http.get("/subscription_items", params={"subscription": "sub_big", "limit": 3}).json()
        assert set(page) == {"object", "data", "has_more", "url"}
        assert page["object"] == "list" and page["url"] == "/v1/subscription_items" and page["has_more"] is True
        assert [i["id"] for i in page["data"]] == ["si_big_00", "si_big_01", "si_big_02"]
        first = page["data"][0]
        assert first["object"] == "subscription_item" and first["subscription"] == "sub_big"
        assert first["price"]["object"] == "price" and first["price"]["id"] == "price_000"
        rest = http.get("/subscription_items", params={"subscription": "sub_big", "limit": 100,
                                                       "starting_after": sub["items"]["data"][-1]["id"]}).json()
        assert [i["id"] for i in rest["data"]] == [f"si_big_{j:02d}" for j in range(10, 25)]
        assert rest["has_more"] is False
        back = http.get("/subscription_items", params={"subscription": "sub_big", "limit": 2,
                                                       "ending_before": "si_big_05"}).json()
        assert [i["id"] for i in back["data"]] == ["si_big_03", "si_big_04"] and back["has_more"] is True


def test_subscription_items_errors(srv: SandboxServer) -> None:
    with stripe_client(srv) as http:
        missing = http.get("/subscription_items")
        assert missing.status_code == 400
        assert missing.json()["error"] == {
            "message": "Missing required param: subscription.", "type": "invalid_request_error",
            "code": "parameter_missing", "param": "subscription",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-missing"}
        unknown = http.get("/subscription_items", params={"subscription": "sub_nope"})
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "resource_missing"
        bad = http.get("/subscription_items", params={"subscription": "sub_big", "price": "x"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "parameter_unknown"
        assert http.get("/subscription_items", params={"subscription": "sub_big",
                                                        "starting_after": "si_nope"}).status_code == 400
        expanded = http.get("/subscription_items", params={"subscription": "sub_001",
                                                           "expand[]": "data.price.product"}).json()
        assert expanded["data"][0]["price"]["product"]["object"] == "product"


def test_sdk_reads_subscription_items_and_expanded_payments(client: stripe.StripeClient) -> None:
    items = list(client.v1.subscription_items.list({"subscription": "sub_big", "limit": 4}).auto_paging_iter())
    assert [i.id for i in items] == [f"si_big_{j:02d}" for j in range(25)]
    invoice = client.v1.invoices.retrieve("in_004", {"expand": ["payments"]})
    assert [p.id for p in invoice.payments.data] == ["inpay_004"]
    assert invoice.payments.data[0].object == "invoice_payment"
    assert invoice.payments.data[0].payment.payment_intent == "pi_004"
    page = client.v1.invoices.list({"limit": 3, "expand": ["data.payments"]})
    assert all(inv.payments.data[0].invoice == inv.id for inv in page.data)


# ----- expand ---------------------------------------------------------------------------------------
def test_payments_is_includable(srv: SandboxServer) -> None:
    with stripe_client(srv) as http:
        plain = http.get("/invoices/in_004").json()
        assert "payments" not in plain
        assert all("payments" not in inv for inv in http.get("/invoices").json()["data"])
        payments = http.get("/invoices/in_004", params={"expand[]": "payments"}).json()["payments"]
        assert payments["object"] == "list" and payments["has_more"] is False
        assert payments["url"] == "/v1/invoice_payments?invoice=in_004"
        assert payments["data"] == [http.get("/invoice_payments/inpay_004").json()]
        deeper = http.get("/invoices/in_004", params={"expand[]": "payments.data.invoice"}).json()
        assert deeper["payments"]["data"][0]["invoice"]["id"] == "in_004"


@pytest.mark.parametrize(("path", "params", "shown"), [
    ("/invoices/in_001", {"expand[]": "status"}, "status"),
    ("/invoices/in_001", {"expand[]": "metadata"}, "metadata"),
    ("/invoices/in_001", {"expand[]": "nope"}, "nope"),
    ("/invoices/in_001", {"expand[]": "customer.email"}, "customer.email"),
    ("/invoices", {"expand[]": "data.metadata"}, "data.metadata"),
    ("/invoices", {"expand[]": "customer"}, "customer"),
    ("/invoices/in_000/lines", {"expand[]": "data.amount"}, "data.amount"),
    ("/refunds/re_001", {"expand[]": "amount"}, "amount"),
    ("/events", {"expand[]": "data.data.object.customer"}, "data.data.object.customer"),
])
def test_unexpandable_fields_are_400(srv: SandboxServer, path: str, params: dict[str, str], shown: str) -> None:
    with stripe_client(srv) as http:
        answer = http.get(path, params=params)
    assert answer.status_code == 400
    assert answer.json() == {"error": {"message": f"This property cannot be expanded ({shown}).",
                                       "type": "invalid_request_error", "param": "expand"}}


def test_expand_depth_limit_and_nested_fields(srv: SandboxServer) -> None:
    with stripe_client(srv) as http:
        deep = http.get("/invoices", params={"expand[]": "data.payments.data.payment.charge"})
        assert deep.status_code == 400
        assert deep.json()["error"]["message"] == "You cannot expand more than 4 levels of a property."
        note = http.get("/credit_notes/cn_ref", params={"expand[]": ["refunds.refund", "invoice.customer"]}).json()
        assert note["refunds"][0]["refund"]["object"] == "refund" and note["refunds"][0]["refund"]["id"] == "re_001"
        assert note["invoice"]["customer"]["id"] == "cus_001"
        # expandable in Stripe but an object the sandbox does not hold: accepted, the id stays
        refund = http.get("/refunds/re_001", params={"expand[]": "payment_intent"}).json()
        assert refund["payment_intent"] == "pi_001"


def _sdk_fields(filename: str, class_name: str) -> tuple[set[str], set[str]]:
    """(ExpandableField paths, ListObject paths) of an SDK resource class, nested hashes included."""
    tree = ast.parse((SDK / filename).read_text())
    top = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    expandable: set[str] = set()
    lists: set[str] = set()

    def walk(cls: ast.ClassDef, prefix: str) -> None:
        inner = {n.name: n for n in cls.body if isinstance(n, ast.ClassDef)}
        for node in cls.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                text = ast.unparse(node.annotation)
                name = prefix + node.target.id
                if "ExpandableField" in text:
                    expandable.add(name)
                elif "ListObject" in text:
                    lists.add(name)
                else:
                    for ident in re.findall(r"\b(\w+)\b", text):
                        if ident in inner:
                            walk(inner[ident], name + ".")

    walk(top, "")
    return expandable, lists


@pytest.mark.parametrize(("type_name", "filename", "class_name"), [
    ("customer", "_customer.py", "Customer"), ("product", "_product.py", "Product"), ("price", "_price.py", "Price"),
    ("subscription", "_subscription.py", "Subscription"),
    ("subscription_item", "_subscription_item.py", "SubscriptionItem"), ("invoice", "_invoice.py", "Invoice"),
    ("line_item", "_invoice_line_item.py", "InvoiceLineItem"), ("credit_note", "_credit_note.py", "CreditNote"),
    ("credit_note_line_item", "_credit_note_line_item.py", "CreditNoteLineItem"), ("refund", "_refund.py", "Refund"),
    ("dispute", "_dispute.py", "Dispute"), ("invoice_payment", "_invoice_payment.py", "InvoicePayment"),
    ("charge", "_charge.py", "Charge"), ("event", "_event.py", "Event"),
])
def test_expandable_tables_match_the_sdk(type_name: str, filename: str, class_name: str) -> None:
    expandable, lists = _sdk_fields(filename, class_name)
    assert set(EXPANDABLE[type_name]) == expandable
    assert set(LISTS.get(type_name, {})) == lists


# ----- item types -----------------------------------------------------------------------------------
def _annotations(filename: str, outer: str, inner: str) -> set[str]:
    tree = ast.parse((SDK / filename).read_text())
    top = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == outer)
    cls = next(n for n in top.body if isinstance(n, ast.ClassDef) and n.name == inner)
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def test_tax_and_credit_note_refund_items_carry_type(srv: SandboxServer) -> None:
    with stripe_client(srv) as http:
        invoice = http.get("/invoices/in_001").json()
        note = http.get("/credit_notes/cn_ref").json()
    tax = invoice["total_taxes"][0]
    assert tax == {"amount": 80, "tax_behavior": "exclusive", "tax_rate_details": None, "taxability_reason": None,
                   "taxable_amount": None, "type": "tax_rate_details"}
    assert set(tax) == _annotations("_invoice.py", "Invoice", "TotalTax")
    assert set(note["total_taxes"][0]) == _annotations("_credit_note.py", "CreditNote", "TotalTax")
    assert note["total_taxes"][0]["type"] == "tax_rate_details"
    refund = note["refunds"][0]
    assert refund == {"refund": "re_001", "amount_refunded": 540, "payment_record_refund": None, "type": "refund"}
    assert set(refund) == _annotations("_credit_note.py", "CreditNote", "Refund")


def test_products_by_ids_and_no_paging_with_them(srv: SandboxServer) -> None:
    """`ids[]` (the only id filter of a list the connector reads) returns those products; Stripe
    documents that it "cannot be used with starting_after or ending_before"."""
    with stripe_client(srv) as http:
        listed = http.get("/products", params={"ids[0]": "prod_001", "ids[1]": "prod_003", "ids[2]": "prod_none"})
        assert listed.status_code == 200
        assert sorted(p["id"] for p in listed.json()["data"]) == ["prod_001", "prod_003"]
        paged = http.get("/products", params={"ids[0]": "prod_001", "starting_after": "prod_003"})
        assert paged.status_code == 400 and paged.json()["error"]["param"] == "ids"
