"""`toolfleet rollout`: steer a canary rollout (pause, resume, abort, promote) and read it.

The commands set the toolfleet.io/rollout-control annotation, so the same can
be done with plain kubectl:

    kubectl annotate ts NAME --overwrite toolfleet.io/rollout-control=promote:$(date +%s)
"""

from __future__ import annotations

import time

import click

from toolfleet.rollout.control import CONTROL_ANNOTATION, ControlAction
from toolfleet.runtime import kube


@click.group()
def rollout() -> None:
    """Steer or inspect the canary rollout of a ToolService.

    \b
    Examples:
      toolfleet rollout status cluster-analyzer
      toolfleet rollout pause cluster-analyzer -n models
      toolfleet rollout promote cluster-analyzer
    """


def _control(action: ControlAction) -> click.Command:
    helps = {
        ControlAction.pause: "Stop the current step's clock; the canary keeps its weight.",
        ControlAction.resume: "Continue a paused rollout (or retry one rolled back or aborted).",
        ControlAction.abort: "Send the canary's weight to 0; the stable revision serves all.",
        ControlAction.promote: "Make the canary stable now, skipping remaining steps and checks.",
    }

    @click.command(name=action.value, help=helps[action])
    @click.argument("name")
    @click.option("--namespace", "-n", default=None,
                  help="Namespace of the ToolService (default: the kubeconfig's).")
    def command(name: str, namespace: str | None) -> None:
        ns = namespace or kube.current_namespace()
        value = f"{action.value}:{time.time_ns()}"
        try:
            if kube.get("ToolService", ns, name) is None:
                raise click.ClickException(f"toolservice {ns}/{name} not found")
            kube.patch_metadata("ToolService", ns, name, {CONTROL_ANNOTATION: value})
        except kube.ApiError as err:
            raise click.ClickException(f"toolservice {ns}/{name}: {err}") from None
        click.echo(f"toolservice {ns}/{name}: {action.value} requested "
                   f"({CONTROL_ANNOTATION}={value})")

    return command


for _action in ControlAction:
    rollout.add_command(_control(_action))


@rollout.command()
@click.argument("name")
@click.option("--namespace", "-n", default=None,
              help="Namespace of the ToolService (default: the kubeconfig's).")
def status(name: str, namespace: str | None) -> None:
    """Print where the rollout of NAME stands."""
    ns = namespace or kube.current_namespace()
    try:
        body = kube.get("ToolService", ns, name)
    except kube.ApiError as err:
        raise click.ClickException(f"toolservice {ns}/{name}: {err}") from None
    if body is None:
        raise click.ClickException(f"toolservice {ns}/{name} not found")
    found = body.get("status") or {}
    click.echo(f"stable:  {found.get('stableVersion', '-')} "
               f"(revision {found.get('stableRevision', '-')})")
    current = found.get("rollout")
    if not current:
        click.echo("rollout: none")
        return
    click.echo(f"rollout: {current['phase']} version {current['version']} "
               f"(revision {current['revision']}), step {current['step'] + 1}, "
               f"weight {current['weight']}%")
    if current.get("message"):
        click.echo(f"         {current['message']}")
