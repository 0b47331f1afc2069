"""Stripe: the client (`client`) and every stream the pull reads, with its cursors (`streams`)."""

from adapters.stripe.client import API_NAME, StripeClient, to_epoch_s
from adapters.stripe.streams import EVENTS_STREAM, STREAMS, EventsCursor, StripeStream, WindowsCursor

__all__ = [
    "API_NAME",
    "EVENTS_STREAM",
    "STREAMS",
    "EventsCursor",
    "StripeClient",
    "StripeStream",
    "WindowsCursor",
    "to_epoch_s",
]
