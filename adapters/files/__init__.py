"""Files finance hands over: the marketing-cost CSV reader (`costs`) and its stream (`streams`)."""

from adapters.files.costs import COLUMNS, CostRow, read_marketing_costs
from adapters.files.streams import MARKETING_COSTS, STREAMS, FileStream

__all__ = ["COLUMNS", "MARKETING_COSTS", "STREAMS", "CostRow", "FileStream", "read_marketing_costs"]
