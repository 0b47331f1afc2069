"""Running the connector: the CLI, one run (lock, pull, compute, push), the schedule, the demo."""
