"""``python -m sandbox SCENARIO [options]``: serve a scenario, with every option of the sandbox.

Why: ``connector sandbox`` exposes the options the connector's users need; this entry point also
exposes the sandbox-only ones (``--event-api-version``, ``--rate-limit``, ``--rate-limit-endpoint``)
without touching the connector's command line.
"""

from __future__ import annotations

import argparse

from . import cli_entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="Serve a scenario as PartnerStack + Stripe.")
    p.add_argument("scenario", help="scenario JSON file (shared/spec/scenarios.md)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--faults", help="fault spec, e.g. 429=0.1,5xx=0.05,seed=7")
    p.add_argument("--stripe-key", help="the only Stripe secret key accepted (default: any sk_test_/rk_test_)")
    p.add_argument("--partnerstack-keys", help="PUBLIC:SECRET accepted by PartnerStack (default: any)")
    p.add_argument("--costs-csv", help="write finance's marketing-cost CSV here")
    p.add_argument("--event-api-version", help="Stripe API version events are created in "
                   "(default: the pinned current one; 2024-06-20 renders events pre-basil)")
    p.add_argument("--rate-limit", type=float, help="requests per second per API (default: no limit)")
    p.add_argument("--rate-limit-endpoint", type=float, help="requests per second per endpoint (default: no limit)")
    p.add_argument("--legacy-field-data", action="store_true",
                   help="also serve PartnerStack's deprecated flat field_data beside fields")
    args = p.parse_args(argv)
    cli_entry(args.scenario, args.host, args.port, args.faults, args.stripe_key, args.partnerstack_keys,
              args.costs_csv, args.event_api_version, args.rate_limit, args.rate_limit_endpoint,
              args.legacy_field_data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
