"""The ledger: desired entries in, append-only differences out, statuses only forward.

`compute` runs the rules over the store and books what they decide.
"""
