"""`toolfleet run`: the operator itself, started through kopf.

The settings are read here, once, and handed to every handler through kopf's
memo, with how this replica takes part in peering:

    memo.settings  toolfleet.settings.Settings
    memo.peering   toolfleet.runtime.peering.Peering, or None when the resync
                   task has no peering object to consult (see `resync_peering`)
    memo.namespaces  the namespace patterns watched (empty: all), so that reconciles
                   know which objects the watches hold
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import sys
from typing import TYPE_CHECKING

import click

from toolfleet.settings import Settings, SettingsError

if TYPE_CHECKING:
    import kopf

    from toolfleet.runtime.peering import Peering

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

    Operator settings come from TOOLFLEET_* environment variables (see the
    README); a value the operator cannot use stops it before it starts.

    \b
    Examples:
      toolfleet run                       # one replica, every namespace
      toolfleet run -n team-a -n team-b   # only these namespaces
      toolfleet run --peering             # one of several replicas (the chart's default)
      TOOLFLEET_PEERING=true TOOLFLEET_PEERING_PRIORITY=100 toolfleet run
    """
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        raise click.UsageError(str(err), click.get_current_context()) from None

    # Imported here, not at the top: kopf and the handlers are heavy, and only
    # `run` needs them. Importing the handlers registers them with kopf.
    import kopf
    from kopf._core.engines.peering import Identity

    import toolfleet.handlers  # noqa: F401

    _configure_logging(verbose)
    kopf_identity: Identity | None = None
    resync: Peering | None = None
    if peering:
        if priority is None:
            priority = random.SystemRandom().randint(1, _MAX_RANDOM_PRIORITY)
        identity = _replica_identity()
        kopf_identity = Identity(identity)
        resync = resync_peering(namespaces, peering_name, identity, priority)
        log.info("peering through %r with priority %d, keep-alives valid for %ds",
                 peering_name, priority, peering_lifetime)
    kopf.run(
        identity=kopf_identity,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        settings=_kopf_settings(peering_lifetime),
        standalone=not peering,
        priority=priority if peering else None,
        # Naming a peering object makes kopf insist on it, so only name it when peering.
        peering_name=peering_name if peering else None,
        # What every handler reads instead of globals; the module docstring has the keys.
        memo=kopf.Memo(settings=settings, peering=resync, namespaces=list(namespaces)),
    )


def resync_peering(namespaces: tuple[str, ...], name: str, identity: str,
                   priority: int) -> Peering | None:
    """The peering object the resync task consults before it works, if there is one.

    kopf pauses the watches of a replica that steps back, but not our resync
    task, which must then stand aside too; it reads the peering object to know.
    Watching every namespace, that is the ClusterKopfPeering; watching one plain
    namespace, the KopfPeering there. With several namespaces or a pattern
    there is no single object to read, and the resync task does not wait.
    """
    # Not at the top: importing the handlers registers them with kopf, which only
    # `run` wants.
    from toolfleet.runtime.peering import Peering

    if not namespaces:
        return Peering(name=name, namespace=None, identity=identity, priority=priority)
    (single, *others) = namespaces
    if others or "*" in single or single.startswith("!"):
        return None
    return Peering(name=name, namespace=single, identity=identity, priority=priority)


def _replica_identity() -> str:
    """This replica's name among its peers, known to kopf and to the resync task alike."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


def _kopf_settings(peering_lifetime: int) -> kopf.OperatorSettings:
    import kopf

    settings = kopf.OperatorSettings()
    settings.peering.lifetime = peering_lifetime
    # Keep-alives every few seconds would drown the debug log.
    settings.peering.stealth = True
    return settings


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Their debug logs repeat every request; ours say what was decided.
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
