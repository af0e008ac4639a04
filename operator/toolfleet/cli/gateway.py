"""`toolfleet gateway`: the data plane, every catalog as one MCP server and one tool-call API."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import click

from toolfleet.gateway.settings import GatewaySettings, SettingsError


def _mapping(_ctx: click.Context, _param: click.Parameter,
             values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source.startswith(("http://", "https://")) \
                or not target.startswith(("http://", "https://")):
            raise click.BadParameter(
                f"{value!r} is not URL=URL with two http:// or https:// base URLs; e.g. "
                "http://segmenter.team-a.svc.cluster.local:8080=http://127.0.0.1:9001")
        mapping[source] = target
    return mapping


@click.command(short_help="Run the tool gateway: each catalog as an MCP server and a call API.")
@click.option("--host", help="Listen on this address. [default: TOOLFLEET_GATEWAY_HOST or 0.0.0.0]")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Listen on this port. [default: TOOLFLEET_GATEWAY_PORT or 8080]")
@click.option("--operator-namespace", metavar="NAMESPACE",
              help="Serve the catalogs the operator installed in NAMESPACE publishes. "
              "[default: TOOLFLEET_GATEWAY_OPERATOR_NAMESPACE or toolfleet-system]")
@click.option("--auth/--no-auth", default=None,
              help="Authenticate callers (TokenReview) and authorize each catalog "
              "(SubjectAccessReview, verb call on toolcatalogs). --no-auth serves anyone: "
              "for local use only. [default: TOOLFLEET_GATEWAY_AUTH or on]")
@click.option("--catalog", "catalog_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Serve this canonical catalog JSON file instead of following the "
              "cluster's (repeatable; `toolfleet catalog --format canonical` writes one).")
@click.option("--resolve", "resolve", multiple=True, metavar="URL=URL", callback=_mapping,
              help="Call the second base URL wherever a catalog names the first "
              "(repeatable): for a gateway run outside the cluster.")
@click.option("--verbose", "-v", is_flag=True, help="Log debug messages.")
def gateway(host: str | None, port: int | None, operator_namespace: str | None,
            auth: bool | None, catalog_files: tuple[Path, ...], resolve: dict[str, str],
            verbose: bool) -> None:
    """Run the tool gateway, toolfleet's data plane.

    Every published catalog is served as one MCP server, POST /mcp/CATALOG
    (streamable HTTP), and one tool-call API taking calls exactly as a model
    produced them, POST /v1/catalogs/CATALOG/calls?format=openai|anthropic|gemini.
    CATALOG is `default` or NAMESPACE.TOOLCATALOG. Calls are routed by the
    rollout's weights and measured per tool on /metrics.

    Settings come from TOOLFLEET_GATEWAY_* environment variables (see the
    README); options here override them. A value the gateway cannot use stops
    it before it starts.

    \b
    Examples:
      toolfleet gateway                                  # in the cluster, as the chart runs it
      toolfleet gateway --operator-namespace tools       # an operator installed in `tools`
      toolfleet gateway --no-auth --catalog default.json --resolve \\
          http://segmenter.team-a.svc.cluster.local:8080=http://127.0.0.1:9001
    """
    try:
        settings = GatewaySettings.from_env()
    except SettingsError as err:
        raise click.UsageError(str(err), click.get_current_context()) from None
    overrides: dict[str, Any] = {"host": host, "port": port, "auth": auth,
                                 "operator_namespace": operator_namespace}
    settings = dataclasses.replace(
        settings, **{k: v for k, v in overrides.items() if v is not None})
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")

    # Imported here: the gateway's stack (uvicorn, the MCP SDK) is only needed by it.
    from toolfleet.gateway.endpoints import EndpointSliceResolver
    from toolfleet.gateway.main import MappedResolver, follow_published, load_catalogs, serve
    from toolfleet.runtime import kube

    resolver: Any = MappedResolver(resolve) if resolve else None
    if settings.auth or not catalog_files:
        try:
            kube.load_credentials()
        except kube.NoCredentials as err:
            raise click.ClickException(
                f"{err}. Run it in a pod, set KUBECONFIG, or serve --catalog files with "
                "--no-auth") from None
    if catalog_files:
        try:
            store = load_catalogs(catalog_files)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--catalog") from None
    else:
        store, _stop = follow_published(settings.operator_namespace)
        if resolver is None:
            resolver = EndpointSliceResolver()
            resolver.follow()
    serve(settings, store, resolver)
