"""`toolfleet validate`: what kubectl apply (or the operator) would refuse, found offline."""

from __future__ import annotations

import click

from toolfleet.cli.manifests import FILENAME, check_documents, print_report, read_documents


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
    Other kinds are skipped.

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
    for report in reports:
        print_report(report)
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
