"""`python -m connector` is the `connector` command."""

from connector.run.cli import main

main()
