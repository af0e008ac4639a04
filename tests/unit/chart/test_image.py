"""The operator image the chart runs: built as the chart expects (no Docker engine here)."""

from __future__ import annotations

import fnmatch
import re

import yaml

from .helm import CHART, FULLNAME, REPO, container, one, template

DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTRUCTIONS = [line for line in DOCKERFILE.splitlines()
                if line and not line.startswith((" ", "#"))]


def final_stage() -> list[str]:
    starts = [i for i, line in enumerate(INSTRUCTIONS) if line.startswith("FROM ")]
    return INSTRUCTIONS[starts[-1]:]


def test_it_is_installed_into_a_venv_in_one_stage_and_copied_into_a_slim_one() -> None:
    stages = [line for line in INSTRUCTIONS if line.startswith("FROM ")]
    assert stages == ["FROM ${PYTHON_IMAGE} AS build", "FROM ${PYTHON_IMAGE}"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in INSTRUCTIONS
    # A venv, because the base made from Debian's packages (hack/images.sh) has no
    # system pip and refuses system installs (PEP 668).
    assert "RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install ." in INSTRUCTIONS
    assert "PIP_NO_CACHE_DIR=1" in DOCKERFILE
    final = final_stage()
    copies = [line for line in final if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY --from=build /opt/venv /opt/venv"], "only the venv leaves the build"
    assert "ENV PATH=/opt/venv/bin:$PATH" in final
    assert not re.search(r"pip install|apt-get|gcc|build-essential", "\n".join(final))


def test_it_runs_toolfleet_as_the_chart_non_root_user() -> None:
    final = final_stage()
    user = next(line for line in final if line.startswith("USER "))
    uid = int(user.split()[1].split(":")[0])
    pod = one(template(), "Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert uid != 0 and uid == pod["securityContext"]["runAsUser"]
    assert final[-2:] == ['ENTRYPOINT ["toolfleet"]', 'CMD ["run"]']
    # The chart passes arguments only, so the image's entrypoint runs them.
    assert "command" not in container(template())
    assert container(template())["args"][0] == "run"


def test_the_build_context_holds_what_the_build_copies_and_nothing_else() -> None:
    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines()
                if line and not line.startswith("#")]

    def sent(path: str) -> bool:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(path, pattern.lstrip("!")) or \
                    path.startswith(pattern.lstrip("!") + "/"):
                included = negated
        return included

    for needed in ("pyproject.toml", "operator/toolfleet/cli/__init__.py",
                   "operator/toolfleet/py.typed"):
        assert sent(needed), needed
    for left_out in (".venv/bin/python", ".git/HEAD", ".cluster/kubeconfig",
                     "tests/unit/chart/test_image.py", "services/common/toolfleet_service/app.py"):
        assert not sent(left_out), left_out


def test_the_default_tag_is_the_version_the_image_is_built_as() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert f"docker build -t toolfleet/operator:{chart['appVersion']} ." in DOCKERFILE
    assert container(template())["image"] == f"toolfleet/operator:{chart['appVersion']}"
