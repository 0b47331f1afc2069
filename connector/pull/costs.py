"""Finance's marketing-cost file: re-read whole each run (no cursor), the truth at each run (`costtruth`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.files import MARKETING_COSTS, read_marketing_costs
from connector.config import ConfigError
from connector.pull.context import PullContext
from connector.pull.costtruth import reconcile_costs
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
        # the file is the truth: changed amounts keep their row's id, missing rows go to 0 (`costtruth`);
        # a file with a row that cannot be read takes nothing away (that row may be one of them)
        good = reconcile_costs(good, _stored(session), removals=not rejects)
        pull.writer.write_rows(session, stream.key, MarketingCost, good, rejects, stats)
        stats.pages += 1
    pull.finish(stream.key)


def _stored(session: Session) -> list[dict[str, Any]]:
    columns = (MarketingCost.id, MarketingCost.customer_id, MarketingCost.date, MarketingCost.amount,
               MarketingCost.currency, MarketingCost.note)  # fmt: skip
    return [dict(row._mapping) for row in session.execute(select(*columns)).all()]
