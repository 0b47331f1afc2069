"""Every key Stripe sends for the object types the sandbox serves, with the value it sends when unset.

Why: the connector's adapters must be written against the real shape, so every key of Stripe's own
sample object (openapi fixtures, current API version) is present in what the sandbox serves even when a
scenario leaves it out. Scenarios stay short and sparse; the defaults are merged in only when an object
is rendered, so a million stored invoices don't carry a hundred null keys each.

Keys marked ``:L`` are lists in Stripe (default ``[]``); every other key defaults to ``null`` unless
``OVERRIDES`` says what Stripe sends for a fresh object.
"""

from __future__ import annotations

from typing import Any

_KEYS: dict[str, tuple[str, ...]] = {
    "customer": (
        "id", "object", "address", "balance", "created", "currency", "default_source", "delinquent",
        "description", "discount", "email", "invoice_prefix", "invoice_settings", "livemode",
        "metadata", "name", "next_invoice_sequence", "phone", "preferred_locales:L", "shipping",
        "tax_exempt", "test_clock",
    ),
    "product": (
        "id", "object", "active", "created", "default_price", "description", "images:L", "livemode",
        "marketing_features:L", "metadata", "name", "package_dimensions", "shippable",
        "statement_descriptor", "tax_code", "unit_label", "updated", "url", "type",
    ),
    "price": (
        "id", "object", "active", "billing_scheme", "created", "currency", "custom_unit_amount",
        "livemode", "lookup_key", "metadata", "nickname", "product", "recurring", "tax_behavior",
        "tiers_mode", "transform_quantity", "type", "unit_amount", "unit_amount_decimal",
    ),
    "subscription": (
        "id", "object", "application", "application_fee_percent", "automatic_tax",
        "billing_cycle_anchor", "billing_cycle_anchor_config", "cancel_at", "canceled_at",
        "cancellation_details", "collection_method", "created", "currency", "customer",
        "days_until_due", "default_payment_method", "default_source", "default_tax_rates:L",
        "description", "discounts:L", "ended_at", "invoice_settings", "items", "latest_invoice",
        "livemode", "metadata", "next_pending_invoice_item_invoice", "on_behalf_of", "pause_collection",
        "payment_settings", "pending_invoice_item_interval", "pending_setup_intent", "pending_update",
        "schedule", "start_date", "status", "test_clock", "transfer_data", "trial_end",
        "trial_settings", "trial_start", "cancel_at_period_end", "billing_thresholds", "billing_mode",
        "customer_account", "managed_payments", "billing_schedules:L",
    ),
    "subscription_item": (
        "id", "object", "created", "discounts:L", "metadata", "price", "quantity", "subscription",
        "tax_rates:L", "plan", "current_period_end", "current_period_start", "billing_thresholds",
    ),
    "invoice": (
        "id", "object", "account_country", "account_name", "account_tax_ids", "amount_due",
        "amount_paid", "amount_remaining", "amount_shipping", "application", "attempt_count",
        "attempted", "auto_advance", "automatic_tax", "billing_reason", "collection_method", "created",
        "currency", "custom_fields", "customer", "customer_address", "customer_email", "customer_name",
        "customer_phone", "customer_shipping", "customer_tax_exempt", "customer_tax_ids:L",
        "default_payment_method", "default_source", "default_tax_rates:L", "description", "discounts:L",
        "due_date", "effective_at", "ending_balance", "footer", "from_invoice", "hosted_invoice_url",
        "invoice_pdf", "issuer", "last_finalization_error", "latest_revision", "lines", "livemode",
        "metadata", "next_payment_attempt", "number", "on_behalf_of", "payment_settings", "period_end",
        "period_start", "post_payment_credit_notes_amount", "pre_payment_credit_notes_amount",
        "receipt_number", "rendering", "shipping_cost", "shipping_details", "starting_balance",
        "statement_descriptor", "status", "status_transitions", "subscription", "subtotal",
        "subtotal_excluding_tax", "test_clock", "total", "total_discount_amounts:L",
        "total_excluding_tax", "webhooks_delivered_at", "automatically_finalizes_at",
        "total_pretax_credit_amounts", "total_taxes", "amount_overpaid", "parent", "customer_account",
    ),
    "line_item": (
        "id", "object", "amount", "currency", "description", "discount_amounts:L", "discountable",
        "discounts:L", "invoice", "livemode", "metadata", "period", "quantity", "subscription",
        "pretax_credit_amounts", "taxes", "parent", "pricing", "subtotal", "quantity_decimal",
    ),
    "credit_note": (
        "id", "object", "amount", "amount_shipping", "created", "currency", "customer",
        "customer_balance_transaction", "discount_amount", "discount_amounts:L", "effective_at",
        "invoice", "lines", "livemode", "memo", "metadata", "number", "out_of_band_amount", "pdf",
        "shipping_cost", "status", "subtotal", "subtotal_excluding_tax", "total", "total_excluding_tax",
        "type", "voided_at", "pretax_credit_amounts:L", "total_taxes", "refunds:L",
        "post_payment_amount", "pre_payment_amount", "reason", "customer_account",
    ),
    "credit_note_line_item": (
        "id", "object", "amount", "description", "discount_amount", "discount_amounts:L",
        "invoice_line_item", "livemode", "quantity", "tax_rates:L", "type", "unit_amount",
        "unit_amount_decimal", "pretax_credit_amounts:L", "taxes", "metadata",
    ),
    "refund": (
        "id", "object", "amount", "balance_transaction", "charge", "created", "currency",
        "destination_details", "metadata", "payment_intent", "reason", "receipt_number",
        "source_transfer_reversal", "status", "transfer_reversal", "customer", "customer_account",
        "payment_method",
    ),
    "dispute": (
        "id", "object", "amount", "balance_transactions:L", "charge", "created", "currency", "evidence",
        "evidence_details", "is_charge_refundable", "livemode", "metadata", "payment_intent",
        "payment_method_details", "reason", "status", "enhanced_eligibility_types:L",
    ),
    "invoice_payment": (
        "id", "object", "amount_paid", "amount_requested", "created", "currency", "invoice",
        "is_default", "livemode", "payment", "status", "status_transitions",
    ),
    "charge": (
        "id", "object", "amount", "amount_captured", "amount_refunded", "application",
        "application_fee", "application_fee_amount", "balance_transaction", "billing_details",
        "calculated_statement_descriptor", "captured", "created", "currency", "customer", "description",
        "disputed", "failure_balance_transaction", "failure_code", "failure_message", "fraud_details",
        "livemode", "metadata", "on_behalf_of", "outcome", "paid", "payment_intent", "payment_method",
        "payment_method_details", "receipt_email", "receipt_number", "receipt_url", "refunded",
        "refunds", "review", "shipping", "source_transfer", "statement_descriptor",
        "statement_descriptor_suffix", "status", "transfer_data", "transfer_group", "source",
    ),
    "event": (
        "id", "object", "api_version", "created", "data", "livemode", "pending_webhooks", "request",
        "type",
    ),}

OVERRIDES: dict[str, dict[str, Any]] = {
    "customer": {"balance": 0, "delinquent": False, "tax_exempt": "none"},
    "product": {"active": True, "shippable": None, "type": "service"},
    "price": {"active": True, "billing_scheme": "per_unit", "tax_behavior": "unspecified"},
    "subscription": {"cancel_at_period_end": False, "collection_method": "charge_automatically"},
    "invoice": {
        "amount_overpaid": 0, "amount_shipping": 0, "attempt_count": 0, "attempted": False,
        "auto_advance": False, "collection_method": "charge_automatically", "customer_tax_exempt": "none",
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "starting_balance": 0,
    },
    "line_item": {"discountable": True, "quantity": 1},
    "credit_note": {"amount_shipping": 0, "discount_amount": 0, "status": "issued"},
    "credit_note_line_item": {"discount_amount": 0, "metadata": None},
    "refund": {"status": "succeeded"},
    "dispute": {"is_charge_refundable": False},
    "invoice_payment": {"is_default": True},
    "charge": {"captured": True, "disputed": False, "paid": True, "refunded": False, "status": "succeeded"},
    "event": {"pending_webhooks": 0},
}

# Types whose Stripe object carries a ``livemode`` key (a refund, oddly, does not).
HAS_LIVEMODE: frozenset[str] = frozenset(
    t for t, keys in _KEYS.items() if "livemode" in keys
)


def _build() -> dict[str, dict[str, Any]]:
    """Expand the key lists into ``{type: {key: default}}`` once, at import."""
    out: dict[str, dict[str, Any]] = {}
    for type_name, keys in _KEYS.items():
        defaults: dict[str, Any] = {}
        for raw in keys:
            name, _, tag = raw.partition(":")
            defaults[name] = [] if tag == "L" else None
        defaults["object"] = type_name
        if "livemode" in defaults:
            defaults["livemode"] = False
        if "metadata" in defaults and type_name != "credit_note_line_item":
            defaults["metadata"] = {}
        defaults.update(OVERRIDES.get(type_name, {}))
        out[type_name] = defaults
    return out


DEFAULTS: dict[str, dict[str, Any]] = _build()


def keys_of(type_name: str) -> tuple[str, ...]:
    """The key names of a Stripe type, in the order Stripe's sample lists them."""
    return tuple(DEFAULTS.get(type_name, {}))
