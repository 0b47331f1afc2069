"""Push: the outbox of payable entries, sent to the platform exactly once.

`outbox` runs the three commits around each batch, `lanes` sends a batch per partner,
`recovery` looks up what a crash left `sending`, `pages` reads the outbox, `results` counts;
`destination` is the contract a platform adapter fills (`adapters.partnerstack.rewards`).
"""

from connector.push.destination import Destination
from connector.push.lanes import PushConflict, idempotency_key
from connector.push.outbox import BATCH_SIZE, REJECTED_PREFIX, push
from connector.push.results import CurrencyTotals, PushResult

__all__ = [
    "BATCH_SIZE",
    "REJECTED_PREFIX",
    "CurrencyTotals",
    "Destination",
    "PushConflict",
    "PushResult",
    "idempotency_key",
    "push",
]
