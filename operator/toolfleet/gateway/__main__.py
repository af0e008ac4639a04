"""`python -m toolfleet.gateway`: the same as `toolfleet gateway` (cli/gateway.py)."""

from toolfleet.cli.gateway import gateway

gateway(prog_name="python -m toolfleet.gateway")
