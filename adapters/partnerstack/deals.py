"""The PartnerStack customer a won deal turned into, converting the deal when there is none.

Why: PartnerStack creates rewards on a customer (or a transaction), never on a deal, so a
deal-based program's reward targets the customer its deal converted into. PartnerStack's SDK
converts a deal with `POST /deals/{key}/convert` (`email`, `customer_key`). The connector gives the
new customer a `customer_key` it can derive again, the deal's billing customer (its Stripe id), so
a conversion whose answer was lost is found by `GET /customers/{customer_key}` instead of being
sent twice; the email is the billing customer's.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from adapters.http.errors import ConnectorHttpError
from adapters.http.once import create_once, refused
from connector.push.destination import Held
from connector.store.models import BillingCustomer, Deal


class CustomersApi(Protocol):
    def find_customer(self, customer_key: str) -> dict[str, Any] | None: ...

    def convert_deal(self, deal_key: str, email: str, customer_key: str) -> dict[str, Any]: ...


def converted_key(deal: Deal) -> str:
    """The `customer_key` the deal's customer has (or gets): its billing customer, else the deal."""
    return deal.external_key or deal.key


class DealCustomers:
    """Deal key → PartnerStack customer key, each deal resolved once per run."""

    def __init__(self, api: CustomersApi) -> None:
        self.api = api
        self.known: dict[str, str | Held] = {}

    def target(self, session: Session, deal: Deal) -> str | Held:
        if deal.key not in self.known:
            self.known[deal.key] = self._resolve(session, deal)
        return self.known[deal.key]

    def _resolve(self, session: Session, deal: Deal) -> str | Held:
        raw = deal.raw if isinstance(deal.raw, dict) else {}
        linked = raw.get("customer_key") or (raw.get("customer") or {}).get("key")
        wanted = str(linked) if linked else converted_key(deal)
        found = self.api.find_customer(wanted)
        if found is not None:
            return str(found["key"])
        billing = session.get(BillingCustomer, deal.external_key or "")
        email = billing.email if billing is not None else None
        if not email:
            return Held(f"deal {deal.key} has no converted customer and its billing customer no email to convert it")

        def landed() -> dict[str, Any] | None:
            return self.api.find_customer(wanted)

        try:
            customer = create_once(lambda: self.api.convert_deal(deal.key, email, wanted), landed)
        except ConnectorHttpError as exc:
            if not refused(exc):
                raise
            return Held(f"PartnerStack refused to convert deal {deal.key}: {exc}")
        return str(customer["key"])
