"""The rules: from pulled records to exactly the money each referral program promises.

`compute(ctx, program)` reads the store as of `ctx.as_of`, writes one `Decision` per
submission, appends ledger differences and moves open entries' statuses forward;
`compute(ctx, program, incremental=True)` does the same for only the customers whose
result can have changed since the last compute (the same ledger, in a fraction of the time).
"""

from connector.rules.engine import ComputeResult, compute, compute_in
from connector.rules.kinds import RuleFinding

Finding = RuleFinding

__all__ = ["ComputeResult", "Finding", "RuleFinding", "compute", "compute_in"]
