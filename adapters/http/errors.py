"""What the HTTP layer raises: one-line messages a run can show as its failure reason."""

from __future__ import annotations


class ConnectorHttpError(Exception):
    """An upstream call failed in a way the caller must act on."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that decided it, when one did


class AuthError(ConnectorHttpError):
    """401/403: the keys are wrong or lack access; retrying cannot help."""


class UpstreamError(ConnectorHttpError):
    """The run must fail: retries exhausted, a 4xx on a list, a pagination loop, a page cap."""


class CursorRejected(UpstreamError):
    """A list refused the `starting_after`/`ending_before` key (400/404): that item is gone.

    The caller may re-plan its read without that cursor instead of failing every run.
    """


class RecordNotFound(ConnectorHttpError):
    """404 on a single object: the caller may skip or quarantine that record and go on."""


class RetryableHttpError(ConnectorHttpError):
    """Internal: an outcome the status table says to retry (kept for tenacity's predicate)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:  # not money: seconds
        super().__init__(message)
        self.retry_after = retry_after
