"""The CI integration files: the composite action's check step runs as GitHub would run it,
and the action, workflow and pre-commit files validate against their published schemas."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def _check_step() -> dict:
    return next(s for s in ACTION["runs"]["steps"] if s.get("id") == "check")


def _run_check_step(tmp_path, budgets: str) -> tuple[int, dict[str, str]]:
    """Run the step's script with its env as GitHub passes it (inputs are env, not templated)."""
    step = _check_step()
    assert all("${{" not in line for line in step["run"].splitlines()), "inputs via env only"
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = {
        **os.environ,
        "BUDGETS": budgets,
        "REPORT_FORMAT": "markdown",
        "JUNIT_FILE": str(tmp_path / "junit.xml"),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "PATH": f"{Path(sys.executable).parent!s}{os.pathsep}{os.environ['PATH']}",
    }
    r = subprocess.run(
        ["bash", "-c", step["run"]], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    files = {
        p.name: p.read_text() for p in (summary, outputs, tmp_path / "junit.xml") if p.exists()
    }
    return r.returncode, files


@pytest.mark.skipif(
    not shutil.which("moeplan", path=str(Path(sys.executable).parent)),
    reason="moeplan is not installed beside this Python",
)
def test_action_check_step_passes_and_fails_like_the_gate(tmp_path):
    code, files = _run_check_step(tmp_path, "examples/budgets.yaml")
    assert code == 0
    assert "exit-code=0" in files["outputs.txt"]
    assert "| budget" in files["summary.md"]  # the markdown report reached the job summary
    assert "<testsuite" in files["junit.xml"]

    fail_dir = tmp_path / "fail"
    fail_dir.mkdir()
    code, files = _run_check_step(fail_dir, "examples/budgets-fail.yaml")
    assert code == 1
    assert "exit-code=1" in files["outputs.txt"]
    assert "<failure" in files["junit.xml"]


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.github-actions", "action.yml"),
        ("vendor.github-workflows", ".github/workflows/budgets.yml"),
    ],
)
def test_github_files_validate_against_published_schemas(schema, path):
    pytest.importorskip("check_jsonschema")
    r = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(REPO / path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_workflow_gates_the_examples_with_the_local_action():
    workflow = yaml.safe_load((REPO / ".github/workflows/budgets.yml").read_text())
    steps = workflow["jobs"]["budgets"]["steps"]
    gated = {s["with"]["budgets"] for s in steps if s.get("uses") == "./"}
    assert gated == {"examples/budgets.yaml", "examples/budgets-fail.yaml"}


def test_pre_commit_files_are_valid():
    pytest.importorskip("pre_commit")
    for cmd, path in (
        ("validate-config", ".pre-commit-config.yaml"),
        ("validate-manifest", ".pre-commit-hooks.yaml"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "pre_commit", cmd, str(REPO / path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, r.stdout + r.stderr
