"""The rules: from pulled records to exactly the money each referral program promises.

Pure functions over the facts read as of a time (`reads/` is where they come from): who
qualifies and why not, the basis and rate of each entry, the gates that hold payment.
They book nothing themselves: `connector.ledger.compute` runs them and appends the result.
"""
