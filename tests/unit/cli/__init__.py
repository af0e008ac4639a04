"""Tests of the toolfleet command: operator/toolfleet/cli/."""
