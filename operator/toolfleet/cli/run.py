"""`toolfleet run`: the operator itself, started through kopf."""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import sys

import click

log = logging.getLogger(__name__)

# Kopf pauses every replica of a priority tie, so replicas without an explicit
# priority draw one at random from a range wide enough that ties do not happen.
_MAX_RANDOM_PRIORITY = 2**31 - 1


@click.command(short_help="Run the operator: reconcile ToolServices, serve catalogs.")
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable). Default: all namespaces.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug messages.")
@click.option("--peering/--standalone", default=False, show_default=True,
              envvar="TOOLFLEET_PEERING", show_envvar=True,
              help="Peering: coordinate with other replicas so that one reconciles while "
              "every replica serves health, metrics and catalogs. Needs kopf's peering CRDs "
              "and the peering object (the chart installs both). Standalone: reconcile "
              "without coordinating. Set TOOLFLEET_PEERING=true for --peering.")
@click.option("--peering-name", default="toolfleet", show_default=True,
              envvar="TOOLFLEET_PEERING_NAME", show_envvar=True,
              help="The ClusterKopfPeering (with -n: the KopfPeering in each namespace) that "
              "replicas coordinate through.")
@click.option("--priority", type=int, default=None, envvar="TOOLFLEET_PEERING_PRIORITY",
              show_envvar=True,
              help="Peering priority: the live replica with the highest reconciles, the "
              "others wait. Default: random, since replicas of equal priority all pause.")
@click.option("--peering-lifetime", type=click.IntRange(min=5), default=60,
              show_default=True, envvar="TOOLFLEET_PEERING_LIFETIME_SECONDS", show_envvar=True,
              help="Seconds a replica's keep-alive stays valid. A replica that stops "
              "renewing it (killed, cut off) is taken over within this time.")
def run(namespaces: tuple[str, ...], verbose: bool, peering: bool, peering_name: str,
        priority: int | None, peering_lifetime: int) -> None:
    """Run the operator: reconcile ToolServices and serve health, metrics and catalogs.

    \b
    Examples:
      toolfleet run                       # one replica, every namespace
      toolfleet run -n team-a -n team-b   # only these namespaces
      toolfleet run --peering             # one of several replicas (the chart's default)
      TOOLFLEET_PEERING=true TOOLFLEET_PEERING_PRIORITY=100 toolfleet run
    """
    import kopf

    import toolfleet.handlers  # noqa: F401  (registers the handlers)

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    settings = kopf.OperatorSettings()
    settings.peering.lifetime = peering_lifetime
    # Keep-alives every few seconds would drown the debug log.
    settings.peering.stealth = True
    if peering and priority is None:
        priority = random.SystemRandom().randint(1, _MAX_RANDOM_PRIORITY)
    if peering:
        log.info("peering through %r with priority %d, keep-alives valid for %ds",
                 peering_name, priority, peering_lifetime)
    kopf_identity = None
    if peering:
        from kopf._core.engines.peering import Identity

        import toolfleet.handlers.operator as operator_handlers

        # Our own identity, known to kopf and to the resync task, which must stand
        # aside exactly when kopf pauses this replica.
        identity = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        kopf_identity = Identity(identity)
        single = namespaces[0] if len(namespaces) == 1 and "*" not in namespaces[0] \
            and not namespaces[0].startswith("!") else None
        if not namespaces or single:
            operator_handlers.PEERING = operator_handlers.Peering(
                name=peering_name, namespace=single, identity=identity,
                priority=priority or 0)
    kopf.run(
        identity=kopf_identity,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        settings=settings,
        standalone=not peering,
        priority=priority if peering else None,
        # Naming a peering object makes kopf insist on it, so only name it when peering.
        peering_name=peering_name if peering else None,
    )
