"""What the HTTP layer raises: one-line messages a run can show as its failure reason.

As with httpx's `HTTPStatusError.response`, the answer that decided an error travels with it as
data (`response`, `status_code`), so a caller branches on the status, never on the message text.
"""

from __future__ import annotations

import httpx


class ConnectorHttpError(Exception):
    """An upstream call failed in a way the caller must act on."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        # The answer that decided it; None when none did (a transport failure, an unusable body).
        self.response = response

    @property
    def status_code(self) -> int | None:
        """The HTTP status that decided it, when an answer did."""
        return self.response.status_code if self.response is not None else None


class AuthError(ConnectorHttpError):
    """401/403: the keys are wrong or lack access; retrying cannot help."""


class UpstreamError(ConnectorHttpError):
    """The run must fail: retries exhausted, a 4xx on a list, a pagination loop, a page cap."""


class RetriesExhausted(UpstreamError):
    """Every attempt the retry table allowed failed; `response` is the last attempt's answer, if any.

    Told apart from a refusal (a final 4xx): the platform may still have acted on one of the
    attempts, so the outcome of the request is unknown.
    """


class CursorRejected(UpstreamError):
    """A list refused the `starting_after`/`ending_before` key (400/404): that item is gone.

    The caller may re-plan its read without that cursor instead of failing every run.
    """


class RecordNotFound(ConnectorHttpError):
    """404 on a single object: the caller may skip or quarantine that record and go on."""


class RetryableHttpError(ConnectorHttpError):
    """Internal: an outcome the status table says to retry (kept for tenacity's predicate)."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response | None = None,
        retry_after: float | None = None,  # not money: seconds
    ) -> None:
        super().__init__(message, response=response)
        self.retry_after = retry_after
