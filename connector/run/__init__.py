"""Running the connector: the CLI, one run (lock, pull, compute, push), the schedule, the demo.

The names below are what a caller needs to run the connector once (`run_once`) and read
its outcome. The command line (`connector.run.cli`, the console script) and the scheduled
service (`connector.run.scheduler`, which brings uvicorn, Starlette and APScheduler) are
imported by their module path and not from here, so running once never loads them.
"""

from connector.run.demo import DemoResult, run_demo
from connector.run.lock import LockHeld, RunLockHandle, run_lock
from connector.run.logs import setup_logging
from connector.run.runner import DatabaseUnavailable, RunFailed, RunOutcome, describe_database, open_engine, run_once

__all__ = [
    "DatabaseUnavailable",
    "DemoResult",
    "LockHeld",
    "RunFailed",
    "RunLockHandle",
    "RunOutcome",
    "describe_database",
    "open_engine",
    "run_demo",
    "run_lock",
    "run_once",
    "setup_logging",
]
