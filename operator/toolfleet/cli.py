"""The toolfleet command."""

from __future__ import annotations

import logging
import sys

import click

from toolfleet import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="toolfleet")
def main() -> None:
    """toolfleet: run specialist AI tool services on Kubernetes and publish their tools.

    Settings come from TOOLFLEET_* environment variables (see the README).
    """


@main.command()
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable). Default: all namespaces.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug messages.")
@click.option("--standalone/--peering", default=True, show_default=True,
              help="Standalone: reconcile without coordinating with other replicas.")
@click.option("--peering-name", default="toolfleet", show_default=True,
              help="KopfPeering object that replicas coordinate through (with --peering).")
def run(namespaces: tuple[str, ...], verbose: bool, standalone: bool,
        peering_name: str) -> None:
    """Run the operator: reconcile ToolServices and serve health, metrics and catalogs."""
    import kopf

    import toolfleet.handlers  # noqa: F401  (registers the handlers)

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    kopf.run(
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        standalone=standalone,
        # Naming a peering object makes kopf insist on it, so only name it when peering.
        peering_name=None if standalone else peering_name,
    )


if __name__ == "__main__":
    main()
