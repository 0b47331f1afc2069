"""The single HTTP layer of all adapters (retries, paging, errors); see `client` and `pagination`."""

from __future__ import annotations

import time
from collections.abc import Callable

# Every backoff sleeps through this name; tests replace it to stay fast.
sleep: Callable[[float], None] = time.sleep

from adapters.http.client import HttpClient, RequestCounter  # noqa: E402
from adapters.http.errors import (  # noqa: E402
    AuthError,
    ConnectorHttpError,
    CursorRejected,
    RecordNotFound,
    RetriesExhausted,
    UpstreamError,
)
from adapters.http.pagination import CursorPaginator, Page, paginate  # noqa: E402

__all__ = [
    "AuthError",
    "ConnectorHttpError",
    "CursorPaginator",
    "CursorRejected",
    "HttpClient",
    "Page",
    "RecordNotFound",
    "RequestCounter",
    "RetriesExhausted",
    "UpstreamError",
    "paginate",
    "sleep",
]
