"""`python -m toolfleet.cli`: the toolfleet command."""

from toolfleet.cli import main

main()
