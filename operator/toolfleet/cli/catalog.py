"""`toolfleet catalog`: the catalog routers would read, built from manifests offline."""

from __future__ import annotations

import json

import click

from toolfleet.api.toolcatalog import CatalogFormat, CollisionStrategy
from toolfleet.api.toolservice import Exposure
from toolfleet.catalog.build import build_catalog
from toolfleet.catalog.dialects.adapt import VENDOR_FORMATS
from toolfleet.catalog.dialects.publish import over_tool_limits
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.render import render as render_catalog
from toolfleet.catalog.selection import DEFAULT_CATALOG_NAME, default_catalog_spec
from toolfleet.catalog.source import ServiceEntry, entry_from_body
from toolfleet.cli.manifests import (
    FILENAME,
    Document,
    checked_toolservices,
    namespace_of,
    offline_settings,
)


@click.command(short_help="Print the catalog routers would read, in any format.")
@FILENAME
@click.option("--format", "format_", type=click.Choice([str(f) for f in CatalogFormat]),
              default=CatalogFormat.canonical.value, show_default=True,
              help="The rendering: canonical (every detail, with endpoints), openai, "
              "anthropic, gemini, or mcp (a tools/list result).")
@click.option("-n", "--namespace", default=None,
              help="Namespace of ToolServices whose metadata names none (it is part of "
              "their endpoint URLs). Default: default.")
@click.option("--exposure", "exposures", multiple=True,
              type=click.Choice([str(e) for e in Exposure]),
              help="Publish services of this exposure (repeatable). Default: public, as the "
              "built-in default catalog does.")
@click.option("--collision-strategy", type=click.Choice([str(s) for s in CollisionStrategy]),
              default=None,
              help="When two services offer a tool of one name: prefix each with its service "
              "name, or reject both. Default: as the built-in catalog does "
              "(TOOLFLEET_DEFAULT_COLLISION_STRATEGY, else prefix).")
@click.option("--compact", is_flag=True,
              help="The exact bytes the catalog endpoint serves (no indentation).")
def catalog(paths: tuple[str, ...], format_: str, namespace: str | None,
            exposures: tuple[str, ...], collision_strategy: str | None, compact: bool) -> None:
    """Print the catalog the ToolServices in the files would make, as routers read it.

    The services are taken as Ready, as they are once running, and published
    as the built-in `default` catalog publishes them. Tools left out (exposure,
    invalid schemas, name collisions, a vendor's rules no exact form meets) are
    listed on stderr with the reason, and so are the rewrites and renames the
    format's vendor needs, and a format over its vendor's tools-per-request limit.

    \b
    Examples:
      toolfleet catalog -f config/samples/ --format openai
      toolfleet catalog -f toolservice.yaml --format mcp --exposure internal
      toolfleet catalog -f services/ --format anthropic --compact > tools.json
    """
    services = checked_toolservices(paths, namespace)
    settings = offline_settings()
    entries = [ready_entry(doc, namespace_of(doc, namespace), settings.cluster_domain)
               for doc, _ in services]
    wanted = {Exposure(e) for e in exposures or (Exposure.public.value,)}
    strategy = CollisionStrategy(collision_strategy or settings.default_collision_strategy)
    spec = default_catalog_spec().model_copy(update={
        "exposures": sorted(wanted), "collision_strategy": strategy})
    built = build_catalog(DEFAULT_CATALOG_NAME, entries, spec, namespace=None)
    _explain_left_out(entries, wanted, built)
    _explain_dialects(built, format_)
    rendered = render_catalog(built, format_)
    if compact:
        click.echo(rendered.decode(), nl=False)
    else:
        click.echo(json.dumps(json.loads(rendered), indent=2, sort_keys=True))


def ready_entry(doc: Document, namespace: str, cluster_domain: str) -> ServiceEntry:
    """The catalog entry of a ToolService manifest, as it is once running and Ready."""
    ready = {"type": "Ready", "status": "True", "reason": "Offline",
             "lastTransitionTime": "1970-01-01T00:00:00Z"}
    body = {**doc.body, "metadata": {**doc.body["metadata"], "namespace": namespace},
            "status": {"conditions": [ready]}}
    return entry_from_body(body, namespace_labels={}, cluster_domain=cluster_domain)


def _explain_left_out(entries: list[ServiceEntry], wanted: set[Exposure],
                      built: Catalog) -> None:
    """Say on stderr which tools the catalog leaves out or renames, and how to change that."""
    for entry in entries:
        exposure = Exposure(entry.spec.access.exposure)
        if exposure not in wanted:
            click.echo(f"left out: {entry.key}: exposure {exposure}; pass --exposure "
                       f"{exposure} to include it", err=True)
    for excluded in built.excluded:
        where = f" of {excluded.format}" if excluded.format else ""
        click.echo(f"left out{where}: {excluded.service} tool {excluded.tool}: "
                   f"{excluded.reason}", err=True)
    for conflict in built.conflicts:
        services = ", ".join(conflict.services)
        if conflict.published_as:
            click.echo(f"renamed: {conflict.tool} of {services} published as "
                       f"{', '.join(conflict.published_as)}", err=True)
        else:
            click.echo(f"left out: {conflict.tool} is offered by {services}; rename one, or "
                       "use --collision-strategy prefix", err=True)


def _explain_dialects(built: Catalog, format_: str) -> None:
    """Say on stderr what the format's vendor gets in another form, and its tool limit."""
    formats = VENDOR_FORMATS if format_ == CatalogFormat.canonical.value else (format_,)
    for tool in built.tools:
        for format in formats:
            dialect = tool.dialect(format)
            if dialect is None or dialect.verdict == "excluded":
                continue
            detail = [*dialect.changes, *(
                f"property {original!r} published as {published!r}"
                for entry in dialect.renames for published, original in sorted(
                    entry.keys.items()))]
            click.echo(f"{dialect.verdict} for {format}: {tool.name}: {'; '.join(detail)}",
                       err=True)
    for warning in over_tool_limits(built, formats):
        click.echo(f"warning: {warning}", err=True)
