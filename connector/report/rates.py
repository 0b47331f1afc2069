"""The tie-out that says when a rate could not be found: no run with money it cannot price "ties out".

A partner whose group has no rate earns nothing that can be checked, and a `rates.by_group` key
that matches no PartnerStack group is usually that partner's group mistyped; either makes this
check fail, naming what is held and the key with its suggestion (`connector.rules.ratekeys`). A key that
matches no group while every partner has a rate (a tier not created yet) is named, and the check holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from connector.report.model import Check, EntryRow, FindingRow
from connector.rules.ratekeys import LOUD_CODES, RATE_KEY_UNMATCHED, RATE_UNKNOWN


def loud_findings(findings: Sequence[FindingRow]) -> list[FindingRow]:
    """The findings a reader must see first: rate keys without a group, then partners without a rate."""
    return sorted((f for f in findings if f.code in LOUD_CODES), key=lambda f: (LOUD_CODES.index(f.code),
                                                                                f.subject_key or ""))  # fmt: skip


def _unpriced(e: EntryRow) -> bool:
    """Booked at 0 for want of a rate (`rules.kinds._unpriced`): held by it, or by a gate before it."""
    return e.amount_minor == 0 and e.basis_minor == 0 and Decimal(e.rate) == 0


def rate_check(entries: Sequence[EntryRow], findings: Sequence[FindingRow]) -> Check:
    held = [e for e in entries if e.status == "held" and (e.reason == RATE_UNKNOWN or _unpriced(e))]
    keys = [f for f in findings if f.code == RATE_KEY_UNMATCHED]
    subjects = [f for f in findings if f.code == RATE_UNKNOWN]
    if not (held or subjects):  # a key without a group (a tier not created yet) alone is a warning, not a miss
        unmatched = "".join(f"; {f.detail}" for f in keys)
        return Check("rates_known", None, f"every partner's group has a rate in the program{unmatched}", True)
    statement = (f"{len(held)} entr(ies) booked without a rate, held (their amount is not known), and "
                 f"{len(subjects)} submission(s) whose partner's group has no rate; nothing of theirs is paid "
                 f"until the program names a rate")  # fmt: skip
    exceptions = tuple(f.detail or f.code for f in keys) + tuple(f"{f.subject_key}: {f.detail}" for f in subjects)
    return Check("rates_known", None, statement, False, exceptions)
