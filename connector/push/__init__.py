"""Push: the outbox of payable entries, sent to the platform exactly once.

`outbox` runs the three commits around each batch, `lanes` sends a batch per partner,
`recovery` looks up what a crash left `sending`, `pages` reads the outbox, `results` counts;
`destination` is the contract a platform adapter fills (`adapters.partnerstack.rewards`).
"""

from connector.push.destination import Destination, Held
from connector.push.outbox import BATCH_SIZE, REJECTED_PREFIX, push
from connector.push.results import CurrencyTotals, PushResult

__all__ = [
    "BATCH_SIZE",
    "REJECTED_PREFIX",
    "CurrencyTotals",
    "Destination",
    "Held",
    "PushResult",
    "push",
]
