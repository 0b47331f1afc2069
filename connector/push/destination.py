"""The contract between the outbox and a platform that receives its entries.

The outbox owns exactly-once (what is marked, sent, recorded, recovered); a destination owns
the wire: what an entry looks like on the platform, how it is created, what key the platform
answers with, and how an entry already there is found again after a crash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from sqlalchemy.orm import Session

from connector.rules.program import Program
from connector.store.models import LedgerEntry


class Destination(Protocol):
    """A platform the outbox pushes payable entries to (`adapters.partnerstack.rewards` is one)."""

    @property
    def name(self) -> str:
        """The platform as notes and errors name it."""
        ...

    @property
    def concurrency(self) -> int:
        """How many partners' entries may be sent in parallel."""
        ...

    def bodies(self, session: Session, entries: Sequence[LedgerEntry], program: Program) -> list[dict[str, Any]]:
        """The outbound body of each entry, in order, read in the transaction that marks them `sending`.

        Must be deterministic: a changed body under one idempotency key is a conflict (409).
        """
        ...

    def send(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Create one entry on the platform; its answer. A refusal raises `ConnectorHttpError`
        carrying the HTTP status (`status_code`)."""
        ...

    def platform_key(self, answer: dict[str, Any]) -> str:
        """The platform's key for what `send` created, read from its answer."""
        ...

    def find_pushed(self, entry_keys: Collection[str], since: dt.datetime) -> dict[str, str]:
        """Of `entry_keys`, those already on the platform (created after `since`), with their
        platform keys."""
        ...
