"""`moeplan size`, `show`, `list` through typer's CliRunner, bad input included."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from moeplan.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_size_json_schema():
    r = run("size", "mixtral-8x22b", "--quant", "int4", "--json", "--gpu", "h100-sxm")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["model"] == "mixtral-8x22b" and doc["quant"] == "int4"
    for key in ("total", "active"):
        assert isinstance(doc["params"][key], int)
    assert all(isinstance(v, int) for v in doc["params"]["breakdown"].values())
    for key in ("weights_bytes", "kv_bytes_per_token", "kv_cache_bytes", "total_bytes"):
        assert isinstance(doc["memory"][key], int)
    assert doc["memory"]["total_bytes"] > doc["memory"]["weights_bytes"]
    # 73.1 GB int4 weights + 0.94 GB KV (4096 tokens) + 1.8 GB overhead = 75.9 GB
    # <= 0.9 x 79.6 GiB = 76.9 GB: one H100
    assert doc["gpus_needed"] == 1
    longer = json.loads(
        run(
            "size",
            "mixtral-8x22b",
            "--quant",
            "int4",
            "--json",
            "--gpu",
            "h100-sxm",
            "--context",
            "32768",
        ).stdout
    )
    assert longer["gpus_needed"] == 2  # + 224 KiB x 32768 = 7.5 GB of KV no longer fits


def test_size_levels_table_without_quant():
    r = run("size", "deepseek-v3", "--json")
    doc = json.loads(r.stdout)
    assert doc["quant"] is None
    assert [lvl["quant"] for lvl in doc["levels"]][-1] == "native"


def test_size_markdown():
    r = run("size", "qwen3-30b-a3b", "--quant", "fp8", "--format", "markdown")
    assert r.exit_code == 0
    assert "| component" in r.stdout and "routed_experts" in r.stdout


def test_size_table_shows_units():
    r = run("size", "gpt-oss-120b", "--quant", "native", "--gpu", "h100", "--gpus", "2")
    assert r.exit_code == 0
    assert "GB (" in r.stdout and "GiB)" in r.stdout
    assert "per GPU at TP2" in r.stdout


def test_size_kv_options():
    a = json.loads(
        run("size", "mixtral-8x7b", "--quant", "bf16", "--context", "2048", "--json").stdout
    )
    b = json.loads(
        run(
            "size",
            "mixtral-8x7b",
            "--quant",
            "bf16",
            "--context",
            "2048",
            "--kv-quant",
            "fp8",
            "--batch",
            "4",
            "--json",
        ).stdout
    )
    assert a["memory"]["kv_cache_bytes"] == 256 * 2**20
    assert b["memory"]["kv_cache_bytes"] == 4 * 128 * 2**20


def test_size_mixed_scheme():
    r = run("size", "gpt-oss-20b", "--quant", "bf16,experts=mxfp4", "--json")
    doc = json.loads(r.stdout)
    assert doc["memory"]["bits_per_weight"]["routed_experts"] == 4.25
    assert doc["memory"]["bits_per_weight"]["attention"] == 16


def test_show_and_list():
    assert "mla" in run("show", "deepseek-v3").stdout
    models = json.loads(run("list", "models", "--json").stdout)
    # models.yaml + configs-2026 + Qwen3.5-35B and 122B + the AIConfigurator copies + the
    # configs kept in tests/data (Grok-2)
    assert len(models) == 21 + 15 + 2 + 11 + 1
    assert "h100-sxm" in run("list", "gpus").stdout
    assert "q4_k_m" in run("list", "quants").stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("size", "mixtral-8x8b"), "unknown model 'mixtral-8x8b'; did you mean: mixtral-8x7b"),
        (("size", "mixtral-8x7b", "--quant", "int3"), "unknown quant 'int3'"),
        (("size", "mixtral-8x7b", "--gpu", "h1000"), "unknown GPU 'h1000'"),
        (("size", "mixtral-8x7b", "--batch", "-4"), "--batch must be positive"),
        (("size", "mixtral-8x7b", "--context", "0"), "--context must be positive"),
        (("size", "mixtral-8x7b", "--kv-quant", "fp4"), "unknown kv-quant 'fp4'"),
        (("size", "mixtral-8x7b", "--gpus", "3", "--quant", "bf16"), "TP 3 does not divide"),
        (("size", "mixtral-8x7b", "--batch", "many"), "--batch must be a whole number"),
        (("size", "./nope/config.json"), "no such file"),
        (("list", "tpus"), "unknown list 'tpus'"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle):
    r = run(*args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_files_exit_2(tmp_path):
    bad_json = tmp_path / "config.json"
    bad_json.write_text('{"hidden_size": 4096,')
    r = run("size", str(bad_json))
    assert r.exit_code == 2 and "malformed JSON" in r.stderr
    bad_yaml = tmp_path / "spec.yaml"
    bad_yaml.write_text("config: {a: [1, 2}\n")
    r = run("size", str(bad_yaml))
    assert r.exit_code == 2 and "malformed YAML" in r.stderr
    missing = tmp_path / "m.json"
    missing.write_text(json.dumps({"model_type": "mixtral", "hidden_size": 64}))
    r = run("size", str(missing))
    assert r.exit_code == 2 and "missing field 'num_attention_heads'" in r.stderr


def test_planner_commands_do_not_import_heavy_modules():
    """size must not load torch, pynvml or numpy (fast start)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from moeplan.cli import app\n"
        "argv = ['size', 'mixtral-8x22b', '--quant', 'int4', '--gpu', 'h100']\n"
        "r = CliRunner().invoke(app, argv)\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('torch', 'pynvml', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
