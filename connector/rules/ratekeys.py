"""A rate that cannot be found is loud (programs.md, "Changes after the fact").

Why: a `rates.by_group` key mistyped (`salse` for `sales`) once gave exit 0, "checks all hold", and
one partner's entries simply gone. A key that matches no PartnerStack group is named with the
closest existing slug (difflib), in the run's log and notes, the report's findings, the summary's
top and the tie-out, and it fails `connector check`. Pure: the caller brings the group slugs.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass

RATE_UNKNOWN = "rate_unknown"  # a partner's group has no rate: its entries are held (a finding per submission)
RATE_KEY_UNMATCHED = "rate_key_unmatched"  # a rates.by_group key names no PartnerStack group
LOUD_CODES = (RATE_KEY_UNMATCHED, RATE_UNKNOWN)  # what the summary shows first and the tie-out fails on


@dataclass(frozen=True)
class UnmatchedKey:
    key: str
    suggestion: str | None

    def message(self, program: str) -> str:
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return f"{program}: rates.by_group key {self.key!r} matches no PartnerStack group{hint}"


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate by difflib's ratio (at least 0.6), else None."""
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def unmatched_rate_keys(by_group: Collection[str], slugs: Collection[str]) -> list[UnmatchedKey]:
    """The `rates.by_group` keys no group slug matches, each with the closest slug no key names yet
    (a typo's meant group is the one left without a rate), else the closest slug of all."""
    known = set(slugs)
    unmatched = sorted(k for k in by_group if k not in known)
    rateless = known - set(by_group)
    return [UnmatchedKey(k, closest(k, rateless) or closest(k, known)) for k in unmatched]
