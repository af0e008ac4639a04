"""Every third-party package the code imports is a dependency pyproject.toml declares.

A package that only arrives through another one (aiohttp through kopf, referencing
through jsonschema) works until that other package stops bringing it. So each tree
may import only what the install that runs it declares:

- operator/: `dependencies` (the operator image installs nothing else);
- services/: the `services` extra, plus the base dependencies the services' Dockerfiles
  pick out of `dependencies` (the images install nothing else);
- tests/ and hack/: all of them (`make venv` installs `.[test,services]`).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY = frozenset(
    {"toolfleet", "toolfleet_service", "cluster_analyzer", "anomaly_detector", "tests"}
)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: `PyYAML` and `pyyaml` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: Iterable[str]) -> set[str]:
    """The normalized distribution names of requirement strings like `kopf>=1.37`."""
    names = set()
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
        assert match, f"pyproject.toml: cannot read a name from requirement {requirement!r}"
        names.add(normalize(match.group()))
    return names


def image_base_dependencies(dockerfile: Path) -> set[str]:
    """The base dependencies a service Dockerfile installs besides the `services` extra."""
    match = re.search(r"in \(((?:\s*'[^']+',?)+)\s*\)", dockerfile.read_text())
    assert match, (
        f"{dockerfile.relative_to(REPO)}: cannot find the tuple of base dependencies it "
        "installs (`... in ('pydantic', ...)`); update this test with the Dockerfile"
    )
    return requirement_names(re.findall(r"'([^']+)'", match.group(1)))


def allowed_distributions() -> dict[str, set[str]]:
    """For each top-level tree, the distributions its code may import from."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = requirement_names(project["dependencies"])
    extras = {name: requirement_names(reqs)
              for name, reqs in project["optional-dependencies"].items()}
    images = [image_base_dependencies(path)
              for path in sorted((REPO / "services").glob("*/Dockerfile"))]
    in_every_image = set.intersection(*images) if images else set()
    return {
        "operator": base,
        "services": extras["services"] | (base & in_every_image),
        "tests": base | extras["services"] | extras["test"],
        "hack": base | extras["services"] | extras["test"],
    }


def hack_modules() -> set[str]:
    """Modules hack's scripts may import from beside them (names of hack's files)."""
    hack = REPO / "hack"
    return {path.stem for path in hack.rglob("*.py")} | {
        path.name for path in hack.rglob("*") if path.is_dir()
    }


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every absolute import in a module's source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


@cache
def _top_level_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def _ships(dist: str, top: str, sub: str) -> bool:
    files = distribution(dist).files or []
    return any(file.parts[:2] in {(top, sub), (top, f"{sub}.py")} for file in files)


def providers(module: str) -> set[str]:
    """The installed distributions that provide `module` (normalized names).

    A namespace package (`google`) is shared by several distributions; the one
    that ships the imported sub-package (`google.genai`) is the provider.
    """
    top, _, rest = module.partition(".")
    dists = set(_top_level_distributions().get(top, ()))
    if len(dists) > 1 and rest:
        sub = rest.split(".")[0]
        dists = {dist for dist in dists if _ships(dist, top, sub)} or dists
    return {normalize(dist) for dist in dists}


@dataclass(frozen=True)
class Undeclared:
    """An import of a package that the install running its file does not declare."""

    path: str
    line: int
    module: str
    providers: frozenset[str]

    def __str__(self) -> str:
        if not self.providers:
            return (f"{self.path}:{self.line}: imports {self.module!r}, which is not the "
                    "standard library, first-party, or from any installed distribution")
        return (f"{self.path}:{self.line}: imports {self.module!r}, from "
                f"{' or '.join(sorted(self.providers))}, which pyproject.toml does not "
                "declare for this tree")


def undeclared_imports(root: Path, files: Iterable[Path], allowed: set[str],
                       local: frozenset[str] = frozenset()) -> list[Undeclared]:
    """The imports in `files` of third-party modules no `allowed` distribution provides."""
    found = []
    for path in files:
        for line, module in imported_modules(path.read_text()):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY or top in local:
                continue
            dists = providers(module)
            if not dists & allowed:
                found.append(Undeclared(str(path.relative_to(root)), line, module,
                                        frozenset(dists)))
    return found


def test_every_imported_third_party_package_is_declared() -> None:
    allowed = allowed_distributions()
    local = frozenset(hack_modules())
    found = []
    for tree, dists in allowed.items():
        files = sorted((REPO / tree).rglob("*.py"))
        assert files, f"{tree}/ has no Python files: has the tree moved?"
        found += undeclared_imports(REPO, files, dists, local if tree == "hack" else frozenset())
    assert not found, "\n".join(map(str, found))


def test_the_check_names_the_file_and_the_package_of_an_undeclared_import(
    tmp_path: Path,
) -> None:
    module = tmp_path / "server.py"
    module.write_text("import json\nimport toolfleet.api\n\nimport yaml\nfrom pydantic import X\n")

    found = undeclared_imports(tmp_path, [module], allowed={"pydantic"})

    assert [str(undeclared) for undeclared in found] == [
        "server.py:4: imports 'yaml', from pyyaml, which pyproject.toml does not declare "
        "for this tree"
    ]


def test_the_check_refuses_a_module_no_installed_distribution_provides(tmp_path: Path) -> None:
    module = tmp_path / "tool.py"
    module.write_text("def load():\n    import no_such_module_anywhere\n")

    found = undeclared_imports(tmp_path, [module], allowed=set())

    assert [(f.line, f.module, f.providers) for f in found] == [
        (2, "no_such_module_anywhere", frozenset())
    ]


def test_a_namespace_package_is_provided_by_the_distribution_that_ships_the_sub_package() -> None:
    assert providers("google.genai") == {"google-genai"}
