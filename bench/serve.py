"""The sandbox serving a generated world, in a process of its own.

Why a process: the connector's peak RSS must not include the sandbox's copy of a million invoices,
and the sandbox's CPU must not be charged to the connector's process. The world is generated here from
``(size, seed)``, so nothing is written to disk. The first stdout line is a JSON object with the URLs
and the load figures; the process serves until its stdin closes (the parent exiting closes it too).

    python -m bench.serve SIZE [--seed N]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serve")
    p.add_argument("size")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--costs-csv", help="write finance's marketing-cost file of the world here")
    args = p.parse_args(argv)

    from bench.generate import counts, generate
    from sandbox.costs import write_costs_csv
    from sandbox.server import SandboxServer

    started = time.perf_counter()
    document = generate(args.size, args.seed)
    generated = time.perf_counter() - started
    records = counts(document)
    if args.costs_csv:
        write_costs_csv(document, args.costs_csv)
    server = SandboxServer(document, port=0)
    del document  # the sandbox keeps what it needs
    with server as srv:
        loaded = time.perf_counter() - started - generated
        info = {
            "url": srv.url,
            "partnerstack_url": srv.partnerstack_url,
            "stripe_url": srv.stripe_url,
            "generate_seconds": generated,
            "load_seconds": loaded,
            "records": records,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes our stdin or exits
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
