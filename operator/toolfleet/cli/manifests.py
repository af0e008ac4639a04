"""What the offline commands share: reading manifests, checking them, reporting problems.

`validate`, `render` and `catalog` read ToolService and ToolCatalog manifests
from files, directories or stdin, check them as the API server and the operator
would, and print what is wrong. `render` and `catalog` also need the operator's
settings, read here as `run` reads them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from toolfleet.api import rules
from toolfleet.api.common import API_VERSION, GROUP
from toolfleet.api.toolcatalog import NAME_RULES as CATALOG_NAME_RULES
from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.api.toolservice import NAME_RULES, ToolServiceSpec
from toolfleet.catalog.validate import (
    Problem,
    Severity,
    validate_catalog_spec,
    validate_toolservice_spec,
)
from toolfleet.settings import Settings, SettingsError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
TOOLSERVICE, TOOLCATALOG = "ToolService", "ToolCatalog"

FILENAME = click.option(
    "-f", "--filename", "paths", multiple=True, required=True,
    type=click.Path(exists=True, allow_dash=True, path_type=str),
    help="A manifest file, a directory (searched for *.yaml, *.yml, *.json), or - for "
    "stdin. Repeatable.")


# --- reading -----------------------------------------------------------------------------

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
    problems += _spec_problems(kind, spec)
    return sorted(problems, key=lambda p: p.severity != Severity.error)


def _spec_problems(kind: str, spec: Any) -> list[Problem]:
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
    return found


def _metadata_problems(metadata: Any, kind: str) -> list[Problem]:
    if not isinstance(metadata, dict) or not metadata.get("name"):
        return [Problem("metadata.name", "is required")]
    name = str(metadata["name"])
    name_rules = NAME_RULES if kind == TOOLSERVICE else CATALOG_NAME_RULES
    return [Problem(v.path, f"{name!r}: {v.message}")
            for v in rules.name_violations(name_rules, name)]


def check_documents(documents: Iterable[Document]) -> list[tuple[Document, Report]]:
    """A report for each toolfleet document; other kinds are left out."""
    return [(doc, Report(doc.label(), check_document(doc)))
            for doc in documents if doc.is_toolfleet]


def namespace_of(doc: Document, flag: str | None) -> str:
    """The namespace a ToolService lands in: its metadata's, else --namespace, else default."""
    written = (doc.body.get("metadata") or {}).get("namespace")
    return str(written or flag or "default")


def _namespace_problems(doc: Document, flag: str | None) -> list[Problem]:
    written = (doc.body.get("metadata") or {}).get("namespace")
    if written and flag and written != flag:
        return [Problem("metadata.namespace", f"is {written!r} but --namespace is {flag!r}; "
                        "drop one of them or make them agree")]
    return []


def checked_toolservices(paths: tuple[str, ...], namespace: str | None
                         ) -> list[tuple[Document, Report]]:
    """The ToolService documents in `paths`; exits with the report if any has an error.

    `namespace` is the --namespace flag: a manifest naming another is an error,
    since the user asked for two places at once.
    """
    documents, unreadable = read_documents(paths)
    services = [(doc, report) for doc, report in check_documents(documents)
                if doc.kind == TOOLSERVICE]
    reports = unreadable + [report for _, report in services]
    for doc, report in services:
        report.problems.extend(_namespace_problems(doc, namespace))
    fail_on_errors(reports)
    if not services:
        raise click.ClickException(f"no ToolService found in {', '.join(paths)}")
    return services


# --- reporting ---------------------------------------------------------------------------

def print_report(report: Report, *, err: bool = False) -> None:
    """Print a report: its label and counts, then one indented line per problem."""
    status = "valid" if not report.problems else ", ".join(
        part for part in (_count(len(report.errors), "error"),
                          _count(len(report.warnings), "warning")) if part)
    click.echo(f"{report.label}: {status}", err=err)
    for problem in report.problems:
        target = f" ({problem.target})" if problem.target else ""
        click.echo(f"  {problem.severity}{target}: {problem}", err=err)


def _count(n: int, noun: str) -> str:
    return "" if n == 0 else f"{n} {noun}" + ("s" if n != 1 else "")


def fail_on_errors(reports: list[Report]) -> None:
    """Print the reports with errors to stderr and exit 1, if there are any."""
    failing = [r for r in reports if r.errors]
    if failing:
        for report in failing:
            print_report(report, err=True)
        raise SystemExit(1)


# --- settings ----------------------------------------------------------------------------

def offline_settings() -> Settings:
    """The operator's settings, read from the environment as `run` reads them.

    The offline commands print what this operator would make, so they use its
    cluster domain and collision strategy. A bad value exits 1 naming the variable.
    """
    try:
        return Settings.from_env()
    except SettingsError as err:
        raise click.ClickException(str(err)) from None
