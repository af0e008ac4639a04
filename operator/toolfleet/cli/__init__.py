"""The toolfleet command: run the operator; check, render and preview manifests offline.

One module per subcommand: `run` is the operator itself (cli/run.py).
`validate`, `render` and `catalog` need no cluster: they read ToolService and
ToolCatalog manifests (cli/manifests.py) and say what the API server would
refuse, what the operator would create, and what routers would read.
`rollout` steers a canary in a cluster. `gateway` runs the data plane.
This module only builds the group.
"""

from __future__ import annotations

import click

from toolfleet import __version__
from toolfleet.cli import catalog, gateway, render, rollout, run, validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="toolfleet")
def main() -> None:
    """toolfleet: run specialist AI tool services on Kubernetes and publish their tools.

    Settings come from TOOLFLEET_* environment variables (see the README).

    \b
    Examples:
      toolfleet run --peering                       # the operator, as the chart runs it
      toolfleet gateway                             # the tool gateway, as the chart runs it
      toolfleet validate -f config/samples/         # what kubectl apply would refuse
      toolfleet render -f toolservice.yaml -n team  # what the operator would create
      toolfleet catalog -f services/ --format openai
    """


# Each module is named for its command and defines it under the same name; the
# modules stay reachable as toolfleet.cli.<command> (tests patch them there).
main.add_command(run.run)
main.add_command(validate.validate)
main.add_command(render.render)
main.add_command(catalog.catalog)
main.add_command(rollout.rollout)
main.add_command(gateway.gateway)
