"""`moeplan check`: pass, fail and invalid budget files; every output format parsed back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from typer.testing import CliRunner

from moeplan.cli import app

from .conftest import REPO

runner = CliRunner()
EXAMPLES = REPO / "examples"


def run(*args: str):
    return runner.invoke(app, list(args))


def write(tmp_path: Path, budgets: list[dict], name: str = "budgets.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"budgets": budgets}))
    return str(path)


BASE = {
    "name": "b",
    "model": "mixtral-8x7b",
    "quant": "int4",
    "gpu": "h100-sxm",
    "gpus": 1,
    "context": 8192,
    "batch": 4,
}


def test_shipped_examples_pass_and_fail():
    assert run("check", str(EXAMPLES / "budgets.yaml")).exit_code == 0
    r = run("check", str(EXAMPLES / "budgets-fail.yaml"))
    assert r.exit_code == 1 and "FAIL" in r.stdout


def test_json_format(tmp_path):
    path = write(tmp_path, [{**BASE, "limits": {"max_memory_fraction": 0.9, "max_weights_gb": 10}}])
    r = run("check", path, "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    by_limit = {x["limit"]: x for x in doc["results"]}
    assert by_limit["max_memory_fraction"]["passed"] is True
    assert by_limit["max_weights_gb"]["passed"] is False
    assert by_limit["max_weights_gb"]["value"] == pytest.approx(
        24.47, rel=0.01
    )  # 46.7B at ~4.19 bits


def test_markdown_rows(tmp_path):
    path = write(
        tmp_path,
        [
            {
                **BASE,
                "limits": {
                    "max_memory_fraction": 0.9,
                    "max_tpot_ms": 100,
                    "min_total_tokens_per_s": 10,
                },
            }
        ],
    )
    r = run("check", path, "--format", "markdown")
    assert r.exit_code == 0
    rows = [line for line in r.stdout.splitlines() if line.startswith("| b ")]
    assert len(rows) == 3


def test_junit_parses(tmp_path):
    path = write(
        tmp_path,
        [
            {**BASE, "limits": {"max_memory_fraction": 0.9, "max_weights_gb": 10}},
            {**BASE, "name": "c", "limits": {"max_gpus": 1}},
        ],
    )
    out = tmp_path / "report.xml"
    r = run("check", path, "--format", "junit", "--output", str(out))
    assert r.exit_code == 1
    root = ET.parse(out).getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 3
    assert len(root.findall(".//failure")) == 1
    assert {c.get("classname") for c in cases} == {"b", "c"}


def test_paths_relative_to_the_budget_file(tmp_path):
    folder = tmp_path / "repo" / "ci"
    folder.mkdir(parents=True)
    shutil.copytree(EXAMPLES / "configs", folder / "configs")
    budget = {
        **BASE,
        "model": "configs/tiny-moe/config.json",
        "quant": "bf16",
        "gpu": "rtx-4090",
        "limits": {"max_memory_fraction": 0.9},
    }
    path = write(folder, [budget])
    r = runner.invoke(app, ["check", path])  # the working directory is not the budget's folder
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"colour": "red"}, "budget 'b': unknown field 'colour'"),
        ({"gpus": "two"}, "field 'gpus' must be int"),
        ({"gpus": -1}, "field 'gpus' must be at least 1"),
        ({"model": "mixtral-9x9b"}, "budget 'b': field 'model': unknown model"),
        ({"gpu": "h1000"}, "budget 'b': field 'gpu': unknown GPU"),
        ({"quant": "int3"}, "field 'quant': unknown quant"),
        ({"model": "nope/config.json"}, "field 'model': no such file"),
        ({"limits": {"max_speed": 1}}, "unknown field 'limits.max_speed'"),
        ({"limits": {"max_gpus": -2}}, "'limits.max_gpus' must be a positive number"),
        ({"calibration": "missing.yaml"}, "field 'calibration': no such file"),
    ],
)
def test_invalid_files_exit_2_naming_file_budget_field(tmp_path, change, needle):
    budget = {**BASE, "limits": {"max_memory_fraction": 0.9}, **change}
    path = write(tmp_path, [budget])
    r = run("check", path)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and path in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_file_level_errors(tmp_path):
    assert "no such budget file" in run("check", str(tmp_path / "none.yaml")).stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("budgets: [ {name: x\n")
    assert run("check", str(bad)).exit_code == 2
    bad.write_text("models: []\n")
    r = run("check", str(bad))
    assert r.exit_code == 2 and "budgets:" in r.stderr


def test_output_never_overwrites_a_budget_file(tmp_path):
    path = write(tmp_path, [{**BASE, "limits": {"max_gpus": 1}}])
    before = Path(path).read_text()
    r = run("check", path, "--format", "json", "--output", path)
    assert r.exit_code == 2 and Path(path).read_text() == before
