"""`toolfleet validate`: what kubectl apply (or the operator) would refuse, found offline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from toolfleet.catalog.dialects.publish import describe_formats
from toolfleet.catalog.validate import errors, validate_tool
from toolfleet.cli.manifests import FILENAME, check_documents, print_report, read_documents


def format_lines(body: Mapping[str, Any]) -> list[str]:
    """What each format receives of each valid tool of a ToolService manifest."""
    if body.get("kind") != "ToolService":
        return []
    lines = []
    tools = (body.get("spec") or {}).get("tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        if not isinstance(tool, Mapping) or errors(validate_tool(tool, warnings=False)):
            continue
        name = str(tool["name"])
        lines += [f"tools[{index}] {name}: {line}"
                  for line in describe_formats(name, tool["inputSchema"])]
    return lines


@click.command(short_help="Check manifests offline, as kubectl apply would.")
@FILENAME
def validate(paths: tuple[str, ...]) -> None:
    """Check ToolService and ToolCatalog manifests offline, as kubectl apply would.

    Every ToolService and ToolCatalog document is checked against the CRD
    schema, its cross-field rules (minReplicas <= maxReplicas, migProfile with
    sharing mig, unique tool names, rising canary weights, gatewayRef with
    gatewayAPI), and the tool checks of the catalog: valid JSON Schema with an
    object root, names every vendor accepts. Warnings say where a vendor gets
    a weaker form of a tool (no OpenAI strict mode, keywords Gemini ignores).
    Other kinds are skipped. For each tool of a ToolService, one line per
    format says what that vendor receives: the schema as written, an exact
    rewrite (items: {} for an array without items...), renamed property keys
    (mapped back by the gateway), or nothing (left out of that format, a
    warning, with the reason). Rewrites and renames are not problems.

    Exit status: 0 when nothing is wrong (warnings are printed), 1 on errors.

    \b
    Examples:
      toolfleet validate -f config/samples/
      toolfleet validate -f toolservice.yaml -f catalog.yaml
      helm template ... | toolfleet validate -f -
    """
    documents, unreadable = read_documents(paths)
    checked = check_documents(documents)
    reports = unreadable + [report for _, report in checked]
    for report in unreadable:
        print_report(report)
    for doc, report in checked:
        print_report(report)
        for line in format_lines(doc.body):
            click.echo(f"  {line}")
    skipped = len(documents) - len(checked)
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    summary = f"{len(checked)} document(s) checked"
    if skipped:
        summary += f", {skipped} skipped (not ToolService or ToolCatalog)"
    click.echo(f"{summary}: {errors} error(s), {warnings} warning(s)")
    if not checked and not unreadable:
        click.echo(f"error: no ToolService or ToolCatalog found in {', '.join(paths)}",
                   err=True)
        raise SystemExit(1)
    if errors:
        raise SystemExit(1)
