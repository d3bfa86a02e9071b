"""The README's commands work: the examples block runs through the CLI, and .ci/run runs the
README's test command."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from moeplan.cli import app

from .conftest import REPO

README = (REPO / "README.md").read_text()


def _examples() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("moeplan ")]


@pytest.mark.parametrize("line", _examples())
def test_readme_example_runs(line, monkeypatch):
    if "--host-memory" in line:
        pytest.importorskip("numpy")
    elif " profile " in f" {line} ":
        pytest.importorskip("torch")
    monkeypatch.chdir(REPO)
    r = CliRunner().invoke(app, shlex.split(line)[1:])
    assert r.exit_code == 0, f"{line}\n{r.output}"


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "moeplan size mixtral-8x22b --quant int4" in blocks[0]
    test_command = blocks[1].strip()
    assert "pytest" in test_command
    assert test_command in (REPO / ".ci" / "run").read_text()
