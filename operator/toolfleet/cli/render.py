"""`toolfleet render`: the objects the operator would apply for each ToolService, offline."""

from __future__ import annotations

import click
import yaml

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.cli.manifests import FILENAME, checked_toolservices, namespace_of, offline_settings
from toolfleet.resources.children import build_children
from toolfleet.resources.meta import Owner

# `render` has no API server to assign a uid; children's ownerReferences show this one.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"


@click.command(short_help="Print the objects the operator would apply, as YAML.")
@FILENAME
@click.option("-n", "--namespace", default=None,
              help="Namespace of ToolServices whose metadata names none. Default: default.")
def render(paths: tuple[str, ...], namespace: str | None) -> None:
    """Print the objects the operator would apply for each ToolService, as YAML.

    Like `helm template`: nothing is sent to a cluster. ownerReferences carry a
    placeholder uid (the API server assigns the real one). Operator settings
    come from TOOLFLEET_* environment variables, as for `run`. A ToolService
    with errors (see `toolfleet validate`) is not rendered; the command exits 1.

    \b
    Examples:
      toolfleet render -f config/samples/cpu-toolservice.yaml
      toolfleet render -f services/ -n team-a > children.yaml
      toolfleet render -f toolservice.yaml | kubectl apply --dry-run=server -f -
    """
    services = checked_toolservices(paths, namespace)
    settings = offline_settings()
    out: list[str] = []
    for doc, _ in services:
        owner = Owner(name=doc.name, namespace=namespace_of(doc, namespace),
                      uid=PLACEHOLDER_UID,
                      spec=ToolServiceSpec.model_validate(doc.body["spec"]))
        for child in build_children(owner, settings):
            out.append(f"# Source: {doc.label()}\n"
                       + yaml.safe_dump(child, sort_keys=False, width=100))
    click.echo("---\n" + "---\n".join(out), nl=False)
