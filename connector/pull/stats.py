"""Per-stream statistics of one pull: what each stream read, quarantined, paged and requested."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.http import RequestCounter


@dataclass
class StreamStats:
    pulled: int = 0
    quarantined: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    counter: RequestCounter = field(default_factory=RequestCounter, repr=False, compare=False)

    def settle(self) -> None:
        """Copy the request counts in: the counter is shared with fetch threads until the stream ends."""
        self.requests = self.counter.requests
        self.retries = self.counter.retries
