"""Pull: read every upstream stream into the store, one page and its cursor per transaction.

`loop.pull` runs the streams each adapter declares (`adapters/<api>/streams.py`): PartnerStack
(`partnerstack`, `trailing`), Stripe (`stripe`, `windows`, `events`), finance's file (`costs`).
`pages` writes what they read; `fanin` fetches on threads and writes on one.
"""

from adapters.http import UpstreamError
from connector.pull.fanin import run_concurrently, run_concurrently_batched
from connector.pull.jsonsafe import json_safe
from connector.pull.loop import pull
from connector.pull.stats import StreamStats

__all__ = ["StreamStats", "UpstreamError", "json_safe", "pull", "run_concurrently", "run_concurrently_batched"]
