"""What the rules read from the store: facts as of a time, what changed since the last compute,
and the state one compute leaves for the next."""

from connector.rules.reads.changes import Changes, adopt_unstamped, advance_clock, changes_since, prune_departures
from connector.rules.reads.facts import INVOICE_COLUMNS, load_customers, load_global
from connector.rules.reads.holds import keep_violations, open_holds, open_invariant_customers
from connector.rules.reads.sql import IN_LIST, in_lists, padded, read_as
from connector.rules.reads.state import (
    DecisionChanges,
    decision_counts,
    due_customers,
    previous_findings,
    program_digest,
    replace_rechecks,
    save_state,
    write_decisions,
)

__all__ = [
    "IN_LIST",
    "INVOICE_COLUMNS",
    "Changes",
    "DecisionChanges",
    "adopt_unstamped",
    "advance_clock",
    "changes_since",
    "decision_counts",
    "due_customers",
    "in_lists",
    "keep_violations",
    "load_customers",
    "load_global",
    "open_holds",
    "open_invariant_customers",
    "padded",
    "previous_findings",
    "prune_departures",
    "program_digest",
    "read_as",
    "replace_rechecks",
    "save_state",
    "write_decisions",
]
