"""The contract between the outbox and a platform that receives its entries.

The outbox owns exactly-once (what is marked, sent, recorded, recovered); a destination owns
the wire: what an entry looks like on the platform, how it is created, what key the platform
answers with, and how an entry already there is found again after a lost answer or a crash.
No platform help is assumed: a create is not idempotent, so `find_pushed` is what stands between
an unknown outcome and a second reward.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from connector.rules.program import Program
from connector.store.models import LedgerEntry


@dataclass(frozen=True)
class Held:
    """An entry the destination will not send yet, and why (e.g. no amount in the platform's currency)."""

    reason: str


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

    def bodies(
        self, session: Session, entries: Sequence[LedgerEntry], program: Program
    ) -> list[dict[str, Any] | Held]:
        """The outbound body of each entry, in order, read in the session that read the entries (before
        they are marked `sending`, while the batch before them is in flight); `Held` for an entry that
        must not leave yet. Deterministic: the same entry, the same body."""
        ...

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create one entry on the platform, once (never retried blindly); its answer. A refusal raises
        `ConnectorHttpError` carrying the HTTP status (`status_code`)."""
        ...

    def platform_key(self, answer: dict[str, Any]) -> str:
        """The platform's key for what `send` created, read from its answer."""
        ...

    def find_mirrored(self, session: Session, program: str, *, store_wide: bool = False) -> dict[str, str]:
        """Entry key → platform key for the program's payable entries that what the pulls mirrored from
        the platform names, where no entry records that platform key yet; answered from the store, no
        request. It may keep an index of its own in the store, in the caller's transaction, read from
        what changed since its last call (`store_wide`: from everything mirrored)."""
        ...

    def find_pushed(self, bodies: Mapping[str, dict[str, Any]], since: dt.datetime) -> dict[str, str]:
        """Of the entries keyed in `bodies` (each with the body it was or would be sent with), those
        already on the platform (created after `since`), with their platform keys."""
        ...
