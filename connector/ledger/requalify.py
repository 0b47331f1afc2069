"""Decision changes after booking (programs.md "Changes after the fact"): what a take-back says and who sees it.

A submission that qualified and was booked may be rejected on a later run (an earlier submission
for the same company surfaces late, its customer turns out to be a test record, …). Its groups
are then no longer wanted and the ledger takes them back; this module gives those take-backs
their reason, `requalified:<the new rejection code>`, a note naming the submission and the one
that now earns, and the finding finance sees in the run that books them.

The finding is raised only by the pass that appends a take-back (it is news, not a standing
state): a later pass, full or incremental, appends nothing for it and raises nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from connector.rules.kinds import RuleFinding
from connector.rules.qualification import Verdict

REQUALIFIED = "requalified"
"""The finding's code, and the prefix of a take-back's reason (`requalified:duplicate_lead`)."""


@dataclass(frozen=True)
class TakeBack:
    """Why the entries of one (partnership, customer) are taken back."""

    code: str  # the new rejection code
    submission: str  # whose entries are taken back
    earns: str | None  # the submission that now earns instead (an earlier duplicate), if any

    @property
    def reason(self) -> str:
        return f"{REQUALIFIED}:{self.code}"

    def note(self) -> str:
        now = f"; {self.earns} earns instead" if self.earns else ""
        return f"{self.reason}: {self.submission} is now rejected ({self.code}){now}: taken back"

    def finding(self) -> RuleFinding:
        other = f"; {self.earns} earns instead" if self.earns else ""
        detail = f"{self.submission} was booked and is now rejected ({self.code}){other}: its entries are taken back"
        return RuleFinding(self.submission, REQUALIFIED, detail)


Pair = tuple[str, str | None]  # (partnership key, customer key)


def take_backs(
    rejected: Iterable[Verdict], qualified: Collection[Pair], booked: Collection[Pair]
) -> dict[Pair, TakeBack]:
    """The booked (partnership, customer) pairs of `rejected` submissions for which none is `qualified`.

    A duplicate's take-back names the submission it gives way to: its verdict's `earlier`, found by
    `qualify` in the same walk that judged it (an index of every identifier held for the pass only
    to name it was as large as the submissions themselves).
    """
    out: dict[Pair, TakeBack] = {}
    for v in rejected:
        s = v.submission
        pair = (s.partner.key if s.partner else "", s.customer_key)
        if v.reason and pair in booked and pair not in qualified and pair not in out:
            out[pair] = TakeBack(v.reason, s.key, v.earlier)
    return out


def booked_pairs(group_keys: Iterable[str]) -> set[Pair]:
    """The (partnership, customer) pairs of these groups (`program|partnership|customer|kind|source`)."""
    out: set[Pair] = set()
    for key in group_keys:
        _, partner, customer, _rest = key.split("|", 3)
        out.add((partner, None if customer == "-" else customer))
    return out
