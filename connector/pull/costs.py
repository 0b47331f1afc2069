"""Finance's marketing-cost file: re-read whole each run (rows are keyed by content, so no cursor)."""

from __future__ import annotations

from adapters.files import MARKETING_COSTS, read_marketing_costs
from connector.config import ConfigError
from connector.pull.context import PullContext
from connector.pull.pages import Reject, transaction
from connector.store.models import MarketingCost


def pull_costs(pull: PullContext) -> None:
    stream = MARKETING_COSTS
    path = getattr(pull.ctx.settings.finance, stream.setting)
    if not path:
        return
    stats = pull.stat(stream.key)
    try:
        rows = read_marketing_costs(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"bad setting finance.{stream.setting}: cannot read {path}: {exc}") from None
    good = [cost.row for cost in rows if cost.row is not None]
    rejects = [Reject(c.source_id, c.error or "invalid row", c.original) for c in rows if c.row is None]
    with transaction(pull.ctx) as session:
        pull.writer.write_rows(session, stream.key, MarketingCost, good, rejects, stats)
        stats.pages += 1
    pull.finish(stream.key)
