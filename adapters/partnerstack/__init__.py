"""PartnerStack vendor API v2: the client (`client`) and every stream the pull reads (`streams`)."""

from adapters.partnerstack.client import API_NAME, PartnerStackClient, to_epoch_ms
from adapters.partnerstack.streams import STREAMS, PartnerStackStream, TrailingCursor, UpdatedCursor

__all__ = [
    "API_NAME",
    "STREAMS",
    "PartnerStackClient",
    "PartnerStackStream",
    "TrailingCursor",
    "UpdatedCursor",
    "to_epoch_ms",
]
