"""The sandbox's in-memory world: both APIs' collections, the clock, events, pushed rewards.

Why: one object owns every mutable thing so that HTTP handlers (event-loop thread) and test code
(``SandboxServer.apply`` from the test thread) share it under one lock. Stored records are never
mutated in place: a change stores a new dict, so event snapshots and rendered caches stay valid.

Clock and events: the initial scenario load emits no events (Stripe only keeps 30 days of them and a
scenario describes history); ``apply`` moves the clock (to ``now`` if given, else +1 s) and emits the
events Stripe would for each change, stamped with the new clock. Events older than 30 days before the
clock are not served.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from . import STRIPE_API_VERSION
from . import normalize_partnerstack as ps_norm
from . import normalize_stripe as st_norm
from .collection import Collection
from .events import event_types, previous_attributes
from .faults import FaultPlan, FaultSpec
from .jsonutil import dumps
from .normalize_stripe import is_int
from .ratelimit import RateLimiter, RateLimits
from .render import render
from .rewards import build_reward, convert_deal
from .scenario import Scenario, read_json
from .timeutil import clock_ms, now_ms
from .versions import Downgrader, check_event_version

EVENT_RETENTION_SECONDS = 30 * 86400
_STRIPE_APPLY_ORDER = (
    "products", "prices", "customers", "subscriptions", "invoices", "invoice_payments",
    "credit_notes", "refunds", "disputes", "charges", "events",
)
# Types whose served text embeds other records (subscription items embed their price).
_PRICE_DEPENDENT = frozenset({"subscription", "event"})
_INVOICE_STATUS_TIME = {
    "open": "finalized_at", "paid": "paid_at", "void": "voided_at", "uncollectible": "marked_uncollectible_at",
}


class State:
    """Everything the sandbox serves and records."""

    def __init__(
        self,
        scenario: Scenario,
        stripe_key: str | None = None,
        partnerstack_keys: tuple[str, str] | None = None,
        faults: FaultSpec | str | None = None,
        event_api_version: str | None = None,
        rate_limits: RateLimits | None = None,
        legacy_field_data: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.scenario = scenario
        # The API version events are created with (an account's default version): ``versions.py``.
        self.event_api_version = check_event_version(event_api_version or STRIPE_API_VERSION)
        self.rate_limits = rate_limits or RateLimits()
        self.limiter = RateLimiter(self.rate_limits)
        self.downgrader = Downgrader(self.resolve_price, self._default_payment, self._charge_for_intent)
        self.stripe_key = stripe_key
        self.partnerstack_keys = partnerstack_keys
        self.now_ms: int = scenario.now_ms if scenario.now_ms is not None else now_ms()
        self.generation = 0
        # Form answers are served as PartnerStack's list of field objects; the deprecated flat
        # ``field_data`` beside them only when asked for (``--legacy-field-data``).
        self.legacy_field_data = legacy_field_data
        ps_render = (lambda obj: dumps(ps_norm.with_field_data(obj))) if legacy_field_data else None
        self.partnerstack: dict[str, Collection] = {
            name: Collection(name, "key", "created_at", ps_render, hot_field="updated_at") for name in ps_norm.TYPES
        }
        self.stripe: dict[str, Collection] = {
            name: Collection(name, "id", "created", self._renderer(type_name), type_name in _PRICE_DEPENDENT,
                             lambda: self.generation)
            for name, type_name in st_norm.TYPES.items()
        }
        for name, records in scenario.partnerstack.items():
            self.partnerstack[name].replace_all(records)
        # Prices first: a subscription's served text embeds its prices when it is stored.
        for name, records in sorted(scenario.stripe.items(), key=lambda item: item[0] != "prices"):
            if name != "charges":
                self.stripe[name].replace_all(records)
        self.given_charges: list[Any] = list(scenario.stripe.get("charges", []))
        self.rebuild_charges()
        self.event_seq = 0
        self.emit_world_events()
        self.finance: dict[str, Any] = dict(scenario.finance)
        self.pushed_rewards: list[dict[str, Any]] = []
        self.reward_seq = 0
        self.converted_seq = 0
        self.request_seq = 0
        self.fault_plan: FaultPlan | None = None
        self.endless: set[str] = set()
        self.repeat_cursor: set[str] = set()
        self.not_found: set[str] = set()  # request paths answered 404 (an object gone upstream)
        self.unusable: set[str] = set()  # request paths answered 200 with a body that is not JSON
        self.stats: Counter[str] = Counter()
        self.fault_stats: Counter[str] = Counter()
        # per API ("stripe", "partnerstack"): requests seen and requests answered 429 by the rate limits
        self.api_requests: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.set_faults(faults)

    # ----- clock ------------------------------------------------------------------------------
    @property
    def now_s(self) -> int:
        """The sandbox clock in epoch seconds (Stripe's unit)."""
        return self.now_ms // 1000

    def event_cutoff(self) -> int:
        """Oldest ``created`` still listed by ``/v1/events`` (Stripe keeps 30 days)."""
        return self.now_s - EVENT_RETENTION_SECONDS

    # ----- rate limits --------------------------------------------------------------------------
    def set_rate_limits(self, limits: RateLimits | None) -> None:
        """Install (or lift with ``None``) the rate limits; the buckets start full."""
        with self.lock:
            self.rate_limits = limits or RateLimits()
            self.limiter = RateLimiter(self.rate_limits)

    # ----- faults -----------------------------------------------------------------------------
    def set_faults(
        self,
        spec: FaultSpec | str | None,
        endless: list[str] | None = None,
        repeat_cursor: list[str] | None = None,
        not_found: list[str] | None = None,
        unusable: list[str] | None = None,
    ) -> None:
        """Install (or clear with ``None``) the fault spec; restarts its deterministic sequence.

        ``not_found`` lists request paths (``/stripe/v1/invoices/in_x/lines``) answered 404 with
        Stripe's ``resource_missing`` error until cleared: a record another one refers to is gone
        upstream, which no retry fixes. ``unusable`` lists paths answered 200 with a body holding a raw
        NUL byte, which no JSON parser accepts, on every attempt."""
        parsed = FaultSpec.parse(spec) if isinstance(spec, str) or spec is None else spec
        with self.lock:
            self.fault_plan = FaultPlan(parsed) if parsed is not None else None
            self.endless = set(endless or [])
            self.repeat_cursor = set(repeat_cursor or [])
            self.not_found = set(not_found or [])
            self.unusable = set(unusable or [])

    def partnerstack_view(self, obj: Any) -> Any:
        """A stored PartnerStack record as one is served (``field_data`` added in legacy mode)."""
        return ps_norm.with_field_data(obj) if self.legacy_field_data else obj

    # ----- Stripe lookups ---------------------------------------------------------------------
    def resolve_price(self, ident: str) -> dict[str, Any] | None:
        """The full price object for an id (what a subscription item embeds), or ``None``."""
        found = self.stripe["prices"].get(ident)
        return render("price", found) if isinstance(found, dict) else None

    def _renderer(self, type_name: str) -> Callable[[Any], str]:
        def text(obj: Any) -> str:
            return dumps(self.render_stripe(type_name, obj))
        return text

    def render_stripe(self, type_name: str, obj: Any) -> Any:
        """A stored Stripe record as the API sends it (an event in its own ``api_version``)."""
        return render(type_name, obj, self.resolve_price, self.downgrader.object)

    def _default_payment(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice's default payment (a paid one first), for the pre-basil ``charge``/``payment_intent``."""
        payments = self.stripe["invoice_payments"]
        found = payments.first_where(("invoice",), invoice_id)
        return found if isinstance(found, dict) else None

    def _charge_for_intent(self, intent: str) -> str | None:
        charge = self.stripe["charges"].first_where(("payment_intent",), intent)
        ident = charge.get("id") if isinstance(charge, dict) else None
        return ident if isinstance(ident, str) else None

    def emit_world_events(self) -> int:
        """``*.created`` events for the loaded world's objects created within the retention window.

        Why: a real account holds one ``*.created`` event per object it created in the last 30 days,
        so ``/v1/events`` on a freshly loaded world is not empty. See ``world_events.py``.
        """
        from .world_events import emit_created_events

        return emit_created_events(self)

    def find_stripe(self, ident: str) -> tuple[str, Any] | None:
        """``(type, stored record)`` for a Stripe id in any collection (events excluded)."""
        for name, collection in self.stripe.items():
            if name == "events":
                continue
            found = collection.get(ident)
            if found is not None:
                return st_norm.TYPES[name], found
        return None

    def rebuild_charges(self) -> None:
        """Derive minimal charges from refunds, disputes and invoice payments (+ any given ones).

        Why: a current Stripe refund names a charge; ``charge.refunded`` events and ``expand`` need
        that charge to exist even though scenarios don't describe charges. Only the payments of those
        charges are kept while scanning (a large world has a payment per invoice, few charges).
        """
        charges: dict[str, dict[str, Any]] = {}

        def charge_for(record: Any) -> dict[str, Any] | None:
            if not isinstance(record, dict):
                return None
            pi = record.get("payment_intent") if isinstance(record.get("payment_intent"), str) else None
            charge_id = record.get("charge")
            if not isinstance(charge_id, str):
                if pi is None:
                    return None
                charge_id = f"ch_for_{pi}"
            charge = charges.get(charge_id)
            if charge is None:
                charge = {"id": charge_id, "object": "charge", "payment_intent": pi, "refund_list": [],
                          "disputed": False, "currency": record.get("currency"), "created": record.get("created")}
                charges[charge_id] = charge
            if charge.get("payment_intent") is None:
                charge["payment_intent"] = pi
            return charge

        for entry in self.stripe["refunds"].entries():
            refund = entry.obj
            charge = charge_for(refund)
            if charge is not None:
                charge["refund_list"].append(refund)
        for entry in self.stripe["disputes"].entries():
            charge = charge_for(entry.obj)
            if charge is not None:
                charge["disputed"] = True
        wanted = {c["payment_intent"] for c in charges.values() if c.get("payment_intent") is not None}
        payments_by_pi: dict[Any, dict[str, Any]] = {}
        for entry in self.stripe["invoice_payments"].entries() if wanted else []:
            obj = entry.obj
            payment = obj.get("payment") if isinstance(obj, dict) else None
            pi = payment.get("payment_intent") if isinstance(payment, dict) else None
            if isinstance(pi, str) and pi in wanted:
                payments_by_pi[pi] = obj
        built = [self._finish_charge(c, payments_by_pi) for c in charges.values()]
        given = {c.get("id"): c for c in self.given_charges if isinstance(c, dict)}
        merged = [{**c, **given.pop(c["id"])} if c["id"] in given else c for c in built]
        merged += [st_norm.normalize("charge", c, self.now_s) for c in given.values()]
        merged += [c for c in self.given_charges if not isinstance(c, dict)]
        self.stripe["charges"].replace_all(merged)

    def _finish_charge(self, charge: dict[str, Any], payments_by_pi: dict[Any, dict[str, Any]]) -> dict[str, Any]:
        refunds = charge.pop("refund_list")
        payment = payments_by_pi.get(charge.get("payment_intent"))
        amount = payment.get("amount_paid") if payment else None
        refunded = sum(r["amount"] for r in refunds if is_int(r.get("amount")) and r.get("status") != "failed")
        if payment:
            charge["created"] = payment.get("created", charge.get("created"))
            charge["currency"] = payment.get("currency", charge.get("currency"))
            invoice = self.stripe["invoices"].get(payment.get("invoice"))
            if isinstance(invoice, dict):
                charge["customer"] = invoice.get("customer")
        charge.update(
            amount=amount,
            amount_captured=amount,
            amount_refunded=refunded,
            refunded=isinstance(amount, int) and refunded >= amount > 0,
            livemode=False,
            refunds={"object": "list", "data": refunds, "has_more": False,
                     "url": f"/v1/charges/{charge['id']}/refunds"},
        )
        return charge

    # ----- rewards ----------------------------------------------------------------------------
    def create_reward(self, body: Any) -> dict[str, Any]:
        """Validate and record a pushed reward (raises ``RewardError``)."""
        with self.lock:
            key = f"rwd_{self.reward_seq + 1:010d}"
            reward = build_reward(body, self.partnerstack, key, self.now_ms)
            self.reward_seq += 1
            self.partnerstack["rewards"].add(reward)
            self.pushed_rewards.append(reward)
            return reward

    def convert_deal(self, deal_key: str, body: Any) -> dict[str, Any]:
        """Turn a deal into a customer, as PartnerStack's SDK describes (raises ``RewardError``)."""
        with self.lock:
            deals, customers = self.partnerstack["deals"], self.partnerstack["customers"]
            deal = deals.get(deal_key)
            key = f"cust_converted_{self.converted_seq + 1:06d}"
            customer = convert_deal(deal, body, customers, key, self.now_ms)
            self.converted_seq += 1
            customers.add(customer)
            position = deals.position(deal_key)
            assert position is not None  # convert_deal refused a missing deal
            converted = {**deal, "customer_key": customer["key"], "updated_at": self.now_ms}
            deals.replace(deals.entries()[position], converted)
            return customer

    # ----- change over time -------------------------------------------------------------------
    def apply(self, partial: Any) -> dict[str, Any]:
        """Merge a partial scenario in, move the clock, bump ``updated_at`` and emit events."""
        doc = read_json(partial)
        with self.lock:
            clock = clock_ms(doc.get("now"))
            self.now_ms = clock if clock is not None else self.now_ms + 1000
            summary: Counter[str] = Counter()
            ps = _section(doc, "partnerstack")
            for name in ps_norm.TYPES:
                for record in _records(ps, name):
                    if self._apply_partnerstack(name, record):
                        summary[f"partnerstack.{name}"] += 1
            stripe = _section(doc, "stripe")
            new_refunds: list[Any] = []
            touched_charges = False
            for name in _STRIPE_APPLY_ORDER:
                for record in _records(stripe, name):
                    if name == "charges":
                        self.given_charges.append(record)
                        touched_charges = True
                        summary["stripe.charges"] += 1
                        continue
                    changes = self._apply_stripe(name, record)
                    summary[f"stripe.{name}"] += len(changes)
                    if name in ("refunds", "disputes", "invoice_payments") and changes:
                        touched_charges = True
                    if name == "refunds":
                        new_refunds += [new for old, new in changes if old is None]
            if touched_charges:
                self.rebuild_charges()
            for refund in new_refunds:
                charge_id = refund.get("charge") if isinstance(refund, dict) else None
                if not isinstance(charge_id, str) and isinstance(refund, dict):
                    charge_id = f"ch_for_{refund.get('payment_intent')}"
                charge = self.stripe["charges"].get(charge_id)
                if charge is not None:
                    self._emit("charge.refunded", charge, None)
            finance = doc.get("finance")
            if isinstance(finance, dict) and isinstance(finance.get("marketing_costs"), list):
                costs = self.finance.get("marketing_costs")
                self.finance["marketing_costs"] = (costs if isinstance(costs, list) else []) + finance[
                    "marketing_costs"
                ]
            self.generation += 1
            return {"now_ms": self.now_ms, "changed": dict(summary), "events": self.event_seq}

    def _apply_partnerstack(self, name: str, record: Any) -> bool:
        collection = self.partnerstack[name]
        if not isinstance(record, dict):
            collection.add(record)
            return True
        olds = collection.all_with_id(record.get("key")) if "key" in record else []
        if not olds:
            obj = ps_norm.normalize(record, self.now_ms, name)
            if "updated_at" not in record:
                obj["updated_at"] = self.now_ms
            collection.add(obj)
            return True
        changed = False
        for entry in olds:
            old = entry.obj
            merged = ps_norm.normalize({**old, **record}, self.now_ms, name)
            if _without(merged, "updated_at") == _without(old, "updated_at") and "updated_at" not in record:
                continue
            if "updated_at" not in record:
                merged["updated_at"] = self.now_ms
            collection.replace(entry, merged)
            changed = True
        return changed

    def _apply_stripe(self, name: str, record: Any) -> list[tuple[Any, Any]]:
        collection = self.stripe[name]
        type_name = st_norm.TYPES[name]
        invoices = self.stripe["invoices"]

        def lookup(ident: Any) -> Any:
            return invoices.get(ident)

        if not isinstance(record, dict):
            collection.add(record)
            return [(None, record)]
        olds = collection.all_with_id(record.get("id")) if "id" in record else []
        if not olds:
            obj = st_norm.normalize(type_name, record, self.now_s, lookup)
            collection.add(obj)
            self._emit_for(type_name, None, obj)
            return [(None, obj)]
        changes: list[tuple[Any, Any]] = []
        for entry in olds:
            old = entry.obj
            base = _drop_derived(type_name, old, record)
            merged_raw = {**base, **record}
            if type_name == "invoice":
                _stamp_invoice_transition(old, merged_raw, record, self.now_s)
            merged = st_norm.normalize(type_name, merged_raw, self.now_s, lookup)
            if merged == old:
                continue
            if type_name == "product" and "updated" not in record:
                merged["updated"] = self.now_s
            collection.replace(entry, merged)
            self._emit_for(type_name, old, merged)
            changes.append((old, merged))
        return changes

    def _emit_for(self, type_name: str, old: Any, new: Any) -> None:
        for event_type in event_types(type_name, old, new):
            self._emit(event_type, new, previous_attributes(old, new) if event_type.endswith(".updated") else None)

    def _emit(self, event_type: str, obj: Any, previous: dict[str, Any] | None) -> None:
        self.event_seq += 1
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        self.stripe["events"].add({
            "id": f"evt_sbx_{self.event_seq:010d}",
            "object": "event",
            "api_version": self.event_api_version,
            "created": self.now_s,
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        })

    # ----- admin views ------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """How many records each list holds."""
        out = {f"partnerstack.{n}": len(c) for n, c in self.partnerstack.items()}
        out.update({f"stripe.{n}": len(c) for n, c in self.stripe.items()})
        return out


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _records(section: dict[str, Any], name: str) -> list[Any]:
    value = section.get(name)
    return value if isinstance(value, list) else []


def _without(obj: Any, key: str) -> Any:
    return {k: v for k, v in obj.items() if k != key} if isinstance(obj, dict) else obj


def _drop_derived(type_name: str, old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    derived = st_norm.DERIVED.get(type_name, {})
    base = dict(old)
    for key, inputs in derived.items():
        if key not in patch and any(i in patch for i in inputs):
            base.pop(key, None)
    return base


def _stamp_invoice_transition(old: dict[str, Any], merged: dict[str, Any], patch: dict[str, Any], now_s: int) -> None:
    """Stripe stamps ``status_transitions`` when an invoice's status moves; do so unless the patch did."""
    status = patch.get("status")
    if status == old.get("status") or "status_transitions" in patch or not isinstance(status, str):
        return
    transitions = merged.get("status_transitions")
    if not isinstance(transitions, dict):
        return
    key = _INVOICE_STATUS_TIME.get(status)
    stamped = dict(transitions)
    if key and stamped.get(key) is None:
        stamped[key] = now_s
    if status in ("paid", "void", "uncollectible") and stamped.get("finalized_at") is None:
        stamped["finalized_at"] = now_s
    merged["status_transitions"] = stamped
    if "effective_at" not in patch and merged.get("effective_at") is None:
        merged["effective_at"] = stamped.get("finalized_at")
