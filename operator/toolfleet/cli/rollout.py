"""`toolfleet rollout`: steer a canary rollout (pause, resume, abort, promote,
promote-force) and read it.

The commands set the toolfleet.io/rollout-control annotation, then wait (a
bounded `--wait`) for the operator to record it and say whether it was
applied, refused (a promote while the canary lacks ready pods) or ignored
(a control that does not apply to the rollout's phase), from the events it
writes. The same can be done with plain kubectl:

    kubectl annotate ts NAME --overwrite toolfleet.io/rollout-control=promote:$(date +%s)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import click
from pydantic import ValidationError

from toolfleet.api.common import now_rfc3339
from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.rollout.control import (
    APPLIED_CONTROL_ANNOTATION,
    CONTROL_ANNOTATION,
    ControlAction,
)
from toolfleet.rollout.revision import revision_of
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


# Events by which the operator says a control changed nothing.
_REFUSALS = {"PromotionRefused": "refused", "RolloutControlIgnored": "ignored",
             "InvalidRolloutControl": "refused"}


def _control(action: ControlAction) -> click.Command:
    helps = {
        ControlAction.pause: "Stop the current step's clock; the canary keeps its weight.",
        ControlAction.resume: "Continue a paused rollout (or retry one rolled back or aborted).",
        ControlAction.abort: "Send the canary's weight to 0; the stable revision serves all. "
                             "After a promotion whose pods are not all ready, restore the "
                             "revision before it.",
        ControlAction.promote: "Make the canary stable now, skipping remaining steps and "
                               "checks; refused while the canary lacks ready pods.",
        ControlAction.promote_force: "Promote even though the canary lacks ready pods.",
    }

    @click.command(name=action.value, help=helps[action])
    @click.argument("name")
    @click.option("--namespace", "-n", default=None,
                  help="Namespace of the ToolService (default: the kubeconfig's).")
    @click.option("--wait", "wait_seconds", default=15.0, show_default=True, type=float,
                  help="Seconds to wait for the operator to act on the control and say "
                       "whether it was applied, refused or ignored; 0 only sends it.")
    def command(name: str, namespace: str | None, wait_seconds: float) -> None:
        ns = namespace or kube.current_namespace()
        value = f"{action.value}:{time.time_ns()}"
        sent = now_rfc3339()
        try:
            if kube.get("ToolService", ns, name) is None:
                raise click.ClickException(f"toolservice {ns}/{name} not found")
            kube.patch_metadata("ToolService", ns, name, {CONTROL_ANNOTATION: value})
            verdict = _await_verdict(ns, name, value, sent, wait_seconds)
        except kube.ApiError as err:
            raise click.ClickException(f"toolservice {ns}/{name}: {err}") from None
        if verdict is None:
            click.echo(f"toolservice {ns}/{name}: {action.value} requested "
                       f"({CONTROL_ANNOTATION}={value})")
            return
        word, message = verdict
        line = f"toolservice {ns}/{name}: {action.value} {word}: {message}"
        if word != "applied":
            raise click.ClickException(line)
        click.echo(line)

    return command


def _await_verdict(namespace: str, name: str, value: str, sent: str,
                   wait_seconds: float) -> tuple[str, str] | None:
    """("applied" | "refused" | "ignored", message) once the operator recorded `value`;
    None when it did not within `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        body = kube.get("ToolService", namespace, name) or {}
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        if annotations.get(APPLIED_CONTROL_ANNOTATION) == value:
            return control_verdict(body, kube.list_objects("Event", namespace), sent)
        time.sleep(0.5)
    return None


def control_verdict(body: Mapping[str, Any], events: Iterable[Mapping[str, Any]],
                    sent: str) -> tuple[str, str]:
    """What became of a control the operator recorded: refused or ignored when it wrote
    an event saying so on `body` since `sent` (RFC 3339), else applied, with the phase."""
    uid = (body.get("metadata") or {}).get("uid")
    said = [e for e in events
            if (e.get("involvedObject") or {}).get("uid") == uid
            and e.get("reason") in _REFUSALS
            and str(e.get("lastTimestamp") or e.get("eventTime") or "") >= sent]
    if said:
        latest = max(said, key=lambda e: str(e.get("lastTimestamp") or ""))
        message = str(latest.get("message", ""))
        # The event says "<annotation> <action> refused: why"; the CLI's line already
        # names the action and the verdict, so it keeps the why.
        if message.startswith(f"{CONTROL_ANNOTATION} "):
            message = message.partition(": ")[2] or message
        return _REFUSALS[str(latest["reason"])], message
    rollout = (body.get("status") or {}).get("rollout") or {}
    phase = rollout.get("phase", "no rollout")
    return "applied", f"rollout {phase}" + (f": {rollout['message']}"
                                           if rollout.get("message") else "")


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
    desired = _desired_revision(body)
    steps = (((body.get("spec") or {}).get("rollout") or {}).get("steps")) or []
    # The spec's steps are this record's only while the spec asks for its revision.
    of = f" of {len(steps)}" if steps and desired == current["revision"] else ""
    step = f"step {current['step'] + 1}{of}"
    # A promoted record's weight is 100 whichever step it was promoted from.
    where = (f"promoted at {step}" if current["phase"] == "Promoted"
             else f"{step}, weight {current['weight']}%")
    click.echo(f"rollout: {current['phase']} version {current['version']} "
               f"(revision {current['revision']}), {where}")
    if current.get("message"):
        click.echo(f"         {current['message']}")
    if (current["phase"] in ("Aborted", "RolledBack") and desired != current["revision"]
            and desired == found.get("stableRevision")):
        click.echo("         the spec asks for the stable revision again: nothing rolls out")
    capacity = current.get("capacity")
    if capacity:
        click.echo(f"pods:    {capacity['mode']}: stable {capacity['stableReplicas']} "
                   f"(of {capacity['fullReplicas']}), canary {capacity['canaryReplicas']}; "
                   f"{capacity['effectiveWeight']}% of the pods run the canary")
        # A pause for room already quotes it on the rollout's own line.
        if capacity.get("message") and capacity["message"] not in current.get("message", ""):
            click.echo(f"         {capacity['message']}")


def _desired_revision(body: Mapping[str, Any]) -> str | None:
    """The revision the ToolService's spec asks for; None when the spec cannot be read."""
    try:
        return revision_of(ToolServiceSpec.model_validate(body.get("spec") or {}))
    except ValidationError:
        return None
