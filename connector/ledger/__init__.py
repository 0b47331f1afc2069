"""The ledger: desired entries in, append-only differences out, statuses only forward.

`entries` and `corrections` decide in memory (an entry row, its key, the corrections, the
status moves, the reversal pairs); `store` reads and writes them; `reconcile` joins the two
for a slice of the ledger; `compute` runs the rules over the store and books what they decide.

`connector.ledger.compute.compute` is not re-exported here: a package attribute named `compute`
would shadow the module, and `import connector.ledger.compute as m` would bind the function.
"""

from connector.ledger.compute import ComputeResult, compute_in
from connector.ledger.corrections import correction, groups_to_correct, note_wake, pair_reversals, place_open
from connector.ledger.entries import OPEN_STATUSES, Entry, EntryRow, LedgerResult, entry_key, is_open, may_move
from connector.ledger.reconcile import reconcile, reconcile_entries
from connector.ledger.store import LedgerSlice, entries_of_customers, whole_ledger

__all__ = [
    "OPEN_STATUSES",
    "ComputeResult",
    "Entry",
    "EntryRow",
    "LedgerResult",
    "LedgerSlice",
    "compute_in",
    "correction",
    "entries_of_customers",
    "entry_key",
    "groups_to_correct",
    "is_open",
    "may_move",
    "note_wake",
    "pair_reversals",
    "place_open",
    "reconcile",
    "reconcile_entries",
    "whole_ledger",
]
