"""The sandbox serving a generated world, in a process of its own.

Why: the connector's peak RSS must not include the sandbox's copy of a million invoices,
and the sandbox's CPU must not be charged to the connector's process. The world is generated here from
``(size, seed)``, so nothing is written to disk, and streamed into the sandbox record by record, so it
never exists as one document (at L that document alone would be several GB). The first stdout line is
a JSON object with the URLs and the load figures; the process serves until its stdin closes (the
parent exiting closes it too).

    python -m bench.serve SIZE [--seed N]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serve")
    p.add_argument("size")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--costs-csv", help="write finance's marketing-cost file of the world here")
    p.add_argument("--rate-limit", type=float, help="sandbox rate limit, requests per second per API")
    p.add_argument("--rate-limit-endpoint", type=float, help="sandbox rate limit per endpoint")
    args = p.parse_args(argv)

    from bench.generate import EARLIEST_MS, NOW_S, PS_SECTIONS, STRIPE_SECTIONS, stream
    from sandbox.costs import write_costs_csv
    from sandbox.gcutil import paused_gc
    from sandbox.loader import StreamLoader
    from sandbox.scenario import Scenario
    from sandbox.server import SandboxServer
    from sandbox.state import State

    started = time.perf_counter()
    state = State(Scenario(now_ms=NOW_S * 1000))
    loader = StreamLoader(state, EARLIEST_MS)
    loading = 0.0

    def sink(system: str, section: str, record: dict[str, Any]) -> None:
        nonlocal loading
        begun = time.perf_counter()
        loader.add(system, section, record)
        loading += time.perf_counter() - begun

    with paused_gc():
        info = stream(args.size, args.seed, sink)
    finance = {"marketing_costs": info.marketing_costs}
    top = {"name": info.name, "description": info.description, "now": info.now, "finance": finance, "expect": {}}
    state.scenario = Scenario(name=info.name, description=info.description, now_ms=state.now_ms, finance=finance,
                              expect={}, raw=top)
    begun = time.perf_counter()
    loader.finish(finance)
    loading += time.perf_counter() - begun
    gc.freeze()  # a dedicated process: keep the loaded world out of every future GC pass
    generated = time.perf_counter() - started - loading
    records = {f"partnerstack.{n}": loader.counts[f"partnerstack.{n}"] for n in PS_SECTIONS}
    records.update({f"stripe.{n}": loader.counts[f"stripe.{n}"] for n in STRIPE_SECTIONS})
    records["finance.marketing_costs"] = len(info.marketing_costs)
    if args.costs_csv:
        write_costs_csv({"finance": finance}, args.costs_csv)
    server = SandboxServer(state, port=0, rate_limit=args.rate_limit, rate_limit_endpoint=args.rate_limit_endpoint)
    with server as srv:
        info_line = {
            "url": srv.url,
            "partnerstack_url": srv.partnerstack_url,
            "stripe_url": srv.stripe_url,
            "generate_seconds": generated,
            "load_seconds": loading,
            "records": records,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        sys.stdout.write(json.dumps(info_line) + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes our stdin or exits
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
