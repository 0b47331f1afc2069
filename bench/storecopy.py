"""A copy of a kept SQLite store for compute measurements: optionally widened, optionally with an empty ledger.

    python -m bench.storecopy SRC DST [--copies N] [--empty-ledger]

`--copies N` adds N copies of every PartnerStack customer and lead under new keys (`<key>~xK`, their
customer and external keys likewise, so each copied lead points at its copied customer): same
partners, times, e-mails, names and billing customers, so every copy is a later duplicate of its
original and the ledger work stays the original store's while the submissions, customer keys and
identifiers grow N+1 times ("M×5" is `--copies 4`). `--empty-ledger` deletes what a compute writes
(ledger, decisions, compute state, rechecks, recorded terms, findings), so the next compute is a
first pass. The source is only read (its file is copied first).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
from pathlib import Path

COMPUTED = ("entry_status_history", "ledger_entries", "decisions", "compute_state", "compute_recheck",
            "customer_terms", "findings")  # fmt: skip


def copy_store(src: Path, dst: Path, *, copies: int = 0, empty_ledger: bool = False) -> dict[str, int]:
    shutil.copyfile(src, dst)
    con = sqlite3.connect(dst)
    try:
        with con:
            for n in range(1, copies + 1):
                tag = f"~x{n}"
                con.execute(
                    "INSERT INTO ps_customers (key, customer_key, partnership_key, partner_key, provider_key, email, "
                    "name, test, created_at, updated_at, raw, changed_seq) SELECT key || ?, "
                    "CASE WHEN customer_key IS NULL OR customer_key = '' THEN customer_key ELSE customer_key || ? END, "
                    "partnership_key, partner_key, provider_key, email, name, test, created_at, updated_at, raw, "
                    "changed_seq FROM ps_customers WHERE key NOT LIKE '%~x%'",
                    (tag, tag),
                )
                con.execute(
                    "INSERT INTO ps_leads (key, partner_key, external_key, status, company_name, email, domain, "
                    "consent, created_at, updated_at, raw, changed_seq) SELECT key || ?, partner_key, "
                    "CASE WHEN external_key IS NULL OR external_key = '' THEN external_key ELSE external_key || ? END, "
                    "status, company_name, email, domain, consent, created_at, updated_at, raw, changed_seq "
                    "FROM ps_leads WHERE key NOT LIKE '%~x%'",
                    (tag, tag),
                )
            if empty_ledger:
                for table in COMPUTED:
                    con.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("ps_customers", "ps_leads")}  # noqa: S608
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return counts


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.storecopy", description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--copies", type=int, default=0)
    p.add_argument("--empty-ledger", action="store_true")
    args = p.parse_args()
    print(copy_store(args.src, args.dst, copies=args.copies, empty_ledger=args.empty_ledger))


if __name__ == "__main__":
    main()
