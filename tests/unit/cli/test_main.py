"""The toolfleet group (cli/__init__.py): every command registered, explained, and cheap to load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from toolfleet.cli import main

from .fixtures import CPU_SAMPLE, REPO, toolfleet


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_explains_itself_with_examples(command: str) -> None:
    result = toolfleet(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"toolfleet {command}" in result.stdout


def test_the_group_lists_every_command() -> None:
    result = toolfleet("--help")
    assert result.exit_code == 0
    for command in ("run", "validate", "render", "catalog"):
        assert f"  {command} " in result.stdout


def test_the_group_lists_each_command_with_its_whole_summary() -> None:
    listed = toolfleet("--help").stdout.split("Commands:\n", 1)[1].splitlines()

    assert sorted(line.split()[0] for line in listed) == sorted(main.commands)
    # Click cuts a summary that does not fit with "..."; each of ours fits.
    assert not [line for line in listed if line.endswith("...")]


def test_python_dash_m_runs_the_command_without_reading_settings_on_import() -> None:
    # A bad setting matters to the commands that use settings, not to loading the CLI.
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator"), "TOOLFLEET_HTTP_PORT": "abc"}
    result = subprocess.run([sys.executable, "-m", "toolfleet.cli", "validate", "-f",
                             str(CPU_SAMPLE)], env=env, capture_output=True, text=True,
                            timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert "1 document(s) checked: 0 error(s)" in result.stdout


def test_commands_that_need_no_settings_ignore_a_bad_one() -> None:
    result = toolfleet("validate", "-f", CPU_SAMPLE, env={"TOOLFLEET_HTTP_PORT": "abc"})
    assert result.exit_code == 0, result.output
