"""`pull(ctx)`: every declared stream of every source into the store, resumably.

PartnerStack's streams first, then Stripe's, then finance's file; a backfill re-reads
`[since, until)` by created time and never moves a cursor.
"""

from __future__ import annotations

from adapters.partnerstack import PartnerStackClient
from adapters.stripe import StripeClient
from connector.context import RunContext
from connector.mapping import load_mappings
from connector.pull.context import PullContext
from connector.pull.costs import pull_costs
from connector.pull.pages import RecordWriter
from connector.pull.partnerstack import PartnerStackPull
from connector.pull.stats import StreamStats
from connector.pull.stripe import StripePull


def pull(ctx: RunContext) -> dict[str, StreamStats]:
    """Read every stream into the store; returns per-stream statistics (also saved per run)."""
    mappings = load_mappings(ctx.settings)
    ps = PartnerStackClient(ctx.settings)
    st = StripeClient(ctx.settings)
    run = PullContext(ctx, RecordWriter(ctx, mappings))
    try:
        PartnerStackPull(run, ps).run()
        stripe = StripePull(run, st)
        if ctx.is_backfill:
            stripe.backfill()
        else:
            stripe.sync()
        pull_costs(run)
    finally:
        ps.close()
        st.close()
    for stats in run.stats.values():
        stats.settle()
    return run.stats
