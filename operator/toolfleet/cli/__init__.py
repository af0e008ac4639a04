"""The toolfleet command: run the operator; check, render and preview manifests offline.

`run` is the operator itself. `validate`, `render` and `catalog` need no
cluster: they read ToolService and ToolCatalog manifests and say what the API
server would refuse, what the operator would create, and what routers would read.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from toolfleet import __version__
from toolfleet.api import rules
from toolfleet.api.common import API_VERSION, GROUP
from toolfleet.api.toolcatalog import CatalogFormat, CollisionStrategy, ToolCatalogSpec
from toolfleet.api.toolservice import NAME_RULES, Exposure, ToolServiceSpec
from toolfleet.catalog.build import build_catalog
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.render import render as render_catalog
from toolfleet.catalog.selection import DEFAULT_CATALOG_NAME, default_catalog_spec
from toolfleet.catalog.source import ServiceEntry, entry_from_body
from toolfleet.catalog.validate import (
    Problem,
    Severity,
    validate_catalog_spec,
    validate_toolservice_spec,
)
from toolfleet.cli.rollout import rollout
from toolfleet.resources.children import build_children
from toolfleet.resources.meta import Owner
from toolfleet.settings import Settings, SettingsError

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TOOLSERVICE, TOOLCATALOG = "ToolService", "ToolCatalog"
# `render` has no API server to assign a uid; children's ownerReferences show this one.
PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
# Kopf pauses every replica of a priority tie, so replicas without an explicit
# priority draw one at random from a range wide enough that ties do not happen.
_MAX_RANDOM_PRIORITY = 2**31 - 1

FILENAME = click.option(
    "-f", "--filename", "paths", multiple=True, required=True,
    type=click.Path(exists=True, allow_dash=True, path_type=str),
    help="A manifest file, a directory (searched for *.yaml, *.yml, *.json), or - for "
    "stdin. Repeatable.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="toolfleet")
def main() -> None:
    """toolfleet: run specialist AI tool services on Kubernetes and publish their tools.

    Settings come from TOOLFLEET_* environment variables (see the README).

    \b
    Examples:
      toolfleet run --peering                       # the operator, as the chart runs it
      toolfleet validate -f config/samples/         # what kubectl apply would refuse
      toolfleet render -f toolservice.yaml -n team  # what the operator would create
      toolfleet catalog -f services/ --format openai
    """


# --- run ---------------------------------------------------------------------------------

@main.command()
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


# --- reading manifests -------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file."""

    source: str
    index: int
    body: Any

    @property
    def kind(self) -> str:
        """The document's kind, or '' when it has none."""
        return str(self.body.get("kind") or "") if isinstance(self.body, dict) else ""

    @property
    def name(self) -> str:
        """metadata.name, or '' when missing."""
        if not isinstance(self.body, dict):
            return ""
        metadata = self.body.get("metadata")
        return str(metadata.get("name") or "") if isinstance(metadata, dict) else ""

    @property
    def is_toolfleet(self) -> bool:
        """Whether toolfleet reads this document (its kind or its API group is ours)."""
        if not isinstance(self.body, dict):
            return False
        api_version = str(self.body.get("apiVersion") or "")
        return self.kind in (TOOLSERVICE, TOOLCATALOG) or api_version.startswith(f"{GROUP}/")

    def label(self) -> str:
        """How messages name the document: file, position, kind and name."""
        return f"{self.source} (document {self.index}): {self.kind or '?'}/{self.name or '?'}"


@dataclass(frozen=True)
class Report:
    """The problems of one document (or of a file that could not be read)."""

    label: str
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """Problems that make kubectl apply (or the operator) refuse the document."""
        return [p for p in self.problems if p.severity == Severity.error]

    @property
    def warnings(self) -> list[Problem]:
        """Problems that leave the document usable, in a weaker form for some vendor."""
        return [p for p in self.problems if p.severity != Severity.error]


def manifest_files(paths: Iterable[str]) -> list[str]:
    """The files named, with directories expanded to their manifests (sorted, recursive)."""
    files: list[str] = []
    for path in paths:
        if path != "-" and Path(path).is_dir():
            files += sorted(str(p) for p in Path(path).rglob("*")
                            if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
        else:
            files.append(path)
    return files


def read_documents(paths: Iterable[str]) -> tuple[list[Document], list[Report]]:
    """Every document in the files (Lists expanded), and a report per unreadable file."""
    documents: list[Document] = []
    unreadable: list[Report] = []
    for path in manifest_files(paths):
        source = "<stdin>" if path == "-" else path
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text()
            loaded = [d for d in yaml.safe_load_all(text) if d is not None]
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            unreadable.append(Report(source, [Problem(
                "file", f"cannot be read as YAML or JSON: {_one_line(err)}")]))
            continue
        for index, body in enumerate(_expand_lists(loaded), start=1):
            documents.append(Document(source, index, body))
    return documents, unreadable


def _expand_lists(documents: list[Any]) -> Iterator[Any]:
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List" \
                and isinstance(document.get("items"), list):
            yield from document["items"]
        else:
            yield document


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


# --- checking ----------------------------------------------------------------------------

def check_document(document: Document) -> list[Problem]:
    """Every problem of a ToolService or ToolCatalog document, errors first.

    The spec is checked as the API server would (schema and CEL rules, through
    the API models and toolfleet.api.rules) and as the operator would (tool
    schemas, vendor compatibility: toolfleet.catalog.validate).
    """
    body = document.body
    kind = document.kind
    problems: list[Problem] = []
    if kind not in (TOOLSERVICE, TOOLCATALOG):
        return [Problem("kind", f"{kind or 'no kind'} is not a kind of {API_VERSION}; use "
                        f"{TOOLSERVICE} or {TOOLCATALOG}")]
    if body.get("apiVersion") != API_VERSION:
        problems.append(Problem("apiVersion", f"must be {API_VERSION} (got "
                                f"{body.get('apiVersion')!r})"))
    problems += _metadata_problems(body.get("metadata"), kind)
    spec = body.get("spec")
    if spec is None:
        problems.append(Problem("spec", "is required; `kubectl explain "
                                f"{kind.lower()}.spec` lists its fields"))
        return problems
    if kind == TOOLSERVICE:
        found = validate_toolservice_spec(spec, "spec")
        model: type[ToolServiceSpec] | type[ToolCatalogSpec] = ToolServiceSpec
    else:
        found = validate_catalog_spec(spec, "spec")
        model = ToolCatalogSpec
    for violation in rules.violations(model, spec, "spec"):
        # A rule the checks above restate with a more precise location is said once.
        if not any(p.path.startswith(violation.path) and violation.message in p.message
                   for p in found):
            found.append(Problem(violation.path, violation.message))
    problems += found
    return sorted(problems, key=lambda p: p.severity != Severity.error)


def _metadata_problems(metadata: Any, kind: str) -> list[Problem]:
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return [Problem("metadata.name", "is required")]
    name = str(metadata["name"])
    if kind == TOOLSERVICE:
        return [Problem(v.path, f"{name!r}: {v.message}")
                for v in rules.name_violations(NAME_RULES, name)]
    return []


def check_documents(documents: Iterable[Document]) -> list[tuple[Document, Report]]:
    """A report for each toolfleet document; other kinds are left out."""
    return [(doc, Report(doc.label(), check_document(doc)))
            for doc in documents if doc.is_toolfleet]


def _print_report(report: Report, *, err: bool = False) -> None:
    status = "valid" if not report.problems else ", ".join(
        part for part in (_count(len(report.errors), "error"),
                          _count(len(report.warnings), "warning")) if part)
    click.echo(f"{report.label}: {status}", err=err)
    for problem in report.problems:
        target = f" ({problem.target})" if problem.target else ""
        click.echo(f"  {problem.severity}{target}: {problem}", err=err)


def _count(n: int, noun: str) -> str:
    return "" if n == 0 else f"{n} {noun}" + ("s" if n != 1 else "")


def _checked_toolservices(paths: tuple[str, ...], namespace: str | None
                          ) -> list[tuple[Document, Report]]:
    """The ToolService documents in `paths`; exits with the report if any has an error."""
    documents, unreadable = read_documents(paths)
    services = [(doc, report) for doc, report in check_documents(documents)
                if doc.kind == TOOLSERVICE]
    reports = unreadable + [report for _, report in services]
    for doc, report in services:
        report.problems.extend(_namespace_problems(doc, namespace))
    _fail_on_errors(reports)
    if not services:
        raise click.ClickException(f"no ToolService found in {', '.join(paths)}")
    return services


def _fail_on_errors(reports: list[Report]) -> None:
    """Print the reports with errors to stderr and exit 1, if there are any."""
    failing = [r for r in reports if r.errors]
    if failing:
        for report in failing:
            _print_report(report, err=True)
        raise SystemExit(1)


# --- validate ----------------------------------------------------------------------------

@main.command()
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
        _print_report(report)
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


# --- render ------------------------------------------------------------------------------

@main.command()
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
    services = _checked_toolservices(paths, namespace)
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        raise click.ClickException(str(err)) from None
    out: list[str] = []
    for doc, _ in services:
        owner = Owner(name=doc.name, namespace=_namespace_of(doc, namespace),
                      uid=PLACEHOLDER_UID,
                      spec=ToolServiceSpec.model_validate(doc.body["spec"]))
        for child in build_children(owner, settings):
            out.append(f"# Source: {doc.label()}\n"
                       + yaml.safe_dump(child, sort_keys=False, width=100))
    click.echo("---\n" + "---\n".join(out), nl=False)


def _namespace_of(doc: Document, flag: str | None) -> str:
    written = (doc.body.get("metadata") or {}).get("namespace")
    return str(written or flag or "default")


def _namespace_problems(doc: Document, flag: str | None) -> list[Problem]:
    written = (doc.body.get("metadata") or {}).get("namespace")
    if written and flag and written != flag:
        return [Problem("metadata.namespace", f"is {written!r} but --namespace is {flag!r}; "
                        "drop one of them or make them agree")]
    return []


# --- catalog -----------------------------------------------------------------------------

@main.command()
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
    invalid schemas, name collisions) are listed on stderr with the reason.

    \b
    Examples:
      toolfleet catalog -f config/samples/ --format openai
      toolfleet catalog -f toolservice.yaml --format mcp --exposure internal
      toolfleet catalog -f services/ --format anthropic --compact > tools.json
    """
    services = _checked_toolservices(paths, namespace)
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        raise click.ClickException(str(err)) from None
    entries = [_ready_entry(doc, _namespace_of(doc, namespace), settings.cluster_domain)
               for doc, _ in services]
    wanted = {Exposure(e) for e in exposures or (Exposure.public.value,)}
    strategy = CollisionStrategy(collision_strategy or settings.default_collision_strategy)
    spec = default_catalog_spec().model_copy(update={
        "exposures": sorted(wanted), "collision_strategy": strategy})
    built = build_catalog(DEFAULT_CATALOG_NAME, entries, spec, namespace=None)
    _explain_left_out(entries, wanted, built)
    rendered = render_catalog(built, format_)
    if compact:
        click.echo(rendered.decode(), nl=False)
    else:
        click.echo(json.dumps(json.loads(rendered), indent=2, sort_keys=True))


def _ready_entry(doc: Document, namespace: str, cluster_domain: str) -> ServiceEntry:
    """The catalog entry of a ToolService manifest, as it is once running and Ready."""
    ready = {"type": "Ready", "status": "True", "reason": "Offline",
             "lastTransitionTime": "1970-01-01T00:00:00Z"}
    body = {**doc.body, "metadata": {**doc.body["metadata"], "namespace": namespace},
            "status": {"conditions": [ready]}}
    return entry_from_body(body, namespace_labels={},
                           cluster_domain=cluster_domain)


def _explain_left_out(entries: list[ServiceEntry], wanted: set[Exposure],
                      built: Catalog) -> None:
    for entry in entries:
        exposure = Exposure(entry.spec.access.exposure)
        if exposure not in wanted:
            click.echo(f"left out: {entry.key}: exposure {exposure}; pass --exposure "
                       f"{exposure} to include it", err=True)
    for excluded in built.excluded:
        click.echo(f"left out: {excluded.service} tool {excluded.tool}: {excluded.reason}",
                   err=True)
    for conflict in built.conflicts:
        services = ", ".join(conflict.services)
        if conflict.published_as:
            click.echo(f"renamed: {conflict.tool} of {services} published as "
                       f"{', '.join(conflict.published_as)}", err=True)
        else:
            click.echo(f"left out: {conflict.tool} is offered by {services}; rename one, or "
                       "use --collision-strategy prefix", err=True)


main.add_command(rollout)

if __name__ == "__main__":
    main()
