"""Files finance hands over: the marketing-cost CSV reader (`costs`) and its stream (`streams`), the
exchange-rate CSV reader (`fx`)."""

from adapters.files.costs import COLUMNS, CostRow, read_marketing_costs
from adapters.files.fx import FxFileError, read_fx_rates
from adapters.files.streams import MARKETING_COSTS, STREAMS, FileStream

__all__ = [
    "COLUMNS",
    "MARKETING_COSTS",
    "STREAMS",
    "CostRow",
    "FileStream",
    "FxFileError",
    "read_fx_rates",
    "read_marketing_costs",
]
