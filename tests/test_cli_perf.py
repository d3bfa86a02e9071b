"""`moeplan latency`, `plan`, `validate` through CliRunner, bad input included."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from moeplan.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_latency_json_single_batch():
    r = run(
        "latency", "mixtral-8x7b", "--gpu", "h100-sxm", "--gpus", "2", "--quant", "bf16", "--json"
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("ttft_ms",):
        assert doc["prefill"][key] > 0
    for key in ("tpot_ms", "tokens_per_s_per_seq", "tokens_per_s_total"):
        assert doc["decode"][key] > 0
    assert doc["decode"]["bound"] in ("memory", "compute", "communication", "overhead")
    assert doc["efficiencies"]["engine"] == "vllm"


def test_latency_json_points_and_options():
    r = run(
        "latency",
        "deepseek-v3",
        "--gpu",
        "h200",
        "--tp",
        "1",
        "--ep",
        "8",
        "--batch",
        "1,8,64",
        "--input",
        "2048",
        "--output",
        "128",
        "--kv-quant",
        "fp8",
        "--engine",
        "sglang",
        "--json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [p["batch"] for p in doc["points"]] == [1, 8, 64]
    totals = [p["decode"]["tokens_per_s_total"] for p in doc["points"]]
    assert totals == sorted(totals)
    assert doc["layout"]["ep"] == 8 and doc["layout"]["dp"] == 8


def test_latency_multi_node_network_matters():
    args = [
        "latency",
        "deepseek-v3",
        "--gpu",
        "h100",
        "--gpus",
        "16",
        "--tp",
        "8",
        "--pp",
        "2",
        "--batch",
        "32",
        "--json",
    ]
    fast = json.loads(run(*args, "--nodes", "2", "--network-gbps", "3200").stdout)
    slow = json.loads(run(*args, "--nodes", "2", "--network-gbps", "100").stdout)
    assert slow["decode"]["tpot_ms"] > fast["decode"]["tpot_ms"]


def test_latency_markdown_and_engines():
    for engine in ("ideal", "vllm", "sglang", "trtllm", "llamacpp", "vllm-v0"):
        r = run(
            "latency", "qwen3-30b-a3b", "--gpu", "h100", "--engine", engine, "--format", "markdown"
        )
        assert r.exit_code == 0
        header = next(line for line in r.stdout.splitlines() if "TTFT ms" in line)
        assert header.startswith("|") and "batch" in header


def test_plan_finds_cheapest_and_explains_rejections():
    r = run(
        "plan",
        "mixtral-8x7b",
        "--gpu",
        "h100-sxm,a100-80gb",
        "--max-gpus",
        "8",
        "--max-tpot-ms",
        "30",
        "--concurrency",
        "8",
        "--json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["best"]["gpus"] == 1
    assert doc["evaluated"] > 50
    r = run("plan", "deepseek-v3", "--gpu", "l40s", "--max-gpus", "4", "--quant", "bf16,int4")
    assert r.exit_code == 1  # nothing fits: 4 x 48 GB
    assert "GB per GPU" in r.stdout


def test_plan_quant_list_with_mixes():
    r = run("plan", "gpt-oss-120b", "--gpu", "h100", "--quant", "int4,bf16,experts=mxfp4", "--json")
    doc = json.loads(r.stdout)
    quants = {c["quant"] for c in doc["accepted"] + doc["rejected"]}
    assert quants <= {"int4", "bf16,experts=mxfp4"}


def test_validate_json():
    doc = json.loads(run("validate", "--json").stdout)
    assert doc["median_abs_error"] <= 0.25
    assert any(r["skipped"] for r in doc["records"])


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ("latency", "mixtral-8x7b", "--gpu", "h100", "--tp", "3"),
            "TP 3 does not divide 32 attention heads",
        ),
        (
            ("latency", "mixtral-8x7b", "--gpu", "h100", "--tp", "1", "--ep", "16"),
            "EP 16 does not divide 8 experts",
        ),
        (("latency", "mixtral-8x7b", "--gpu", "h100", "--gpus", "0"), "--gpus must be at least 1"),
        (("latency", "mixtral-8x7b", "--gpu", "tpu-v5"), "unknown GPU 'tpu-v5'"),
        (
            ("latency", "mixtral-8x7b", "--gpu", "h100", "--batch", "1,x"),
            "--batch must be comma-separated",
        ),
        (
            ("latency", "mixtral-8x7b", "--gpu", "h100", "--engine", "exllama"),
            "unknown engine 'exllama'",
        ),
        (
            ("latency", "mixtral-8x7b", "--gpu", "h100", "--gpus", "8", "--nodes", "3"),
            "--nodes 3 does not divide",
        ),
        (("latency", "mixtral-8x7b", "--gpu", "gb10", "--gpus", "2"), "no GPU interconnect"),
        (
            ("plan", "mixtral-8x7b", "--gpu", "h100", "--max-gpus", "0"),
            "--max-gpus must be at least 1",
        ),
        (
            ("plan", "mixtral-8x7b", "--gpu", "h100", "--context", "100", "--output", "256"),
            "must exceed --output",
        ),
    ],
)
def test_bad_input_exit_2(args, needle):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_latency_usable_fraction_rejects_a_tight_fit():
    """latency is informational (issue 11): what does not fit is a row saying so, exit 0."""
    args = ["latency", "gpt-oss-120b", "--gpu", "h100", "--quant", "native", "--json"]
    r = run(*args)
    assert r.exit_code == 0 and json.loads(r.stdout)["fits"] is True
    r = run(*args, "--usable-fraction", "0.5")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["fits"] is False and doc["missing_bytes_per_gpu"] > 0


def test_latency_when_no_batch_fits_says_so_and_exits_0():
    r = run("latency", "deepseek-v3", "--gpu", "h100", "--gpus", "1", "--batch", "1,8")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("does not fit") == 2


def test_plan_every_target_option():
    r = run(
        "plan",
        "qwen3-30b-a3b",
        "--gpu",
        "l40s,h100",
        "--max-gpus",
        "4",
        "--context",
        "8192",
        "--output",
        "512",
        "--concurrency",
        "32",
        "--max-ttft-ms",
        "5000",
        "--max-tpot-ms",
        "80",
        "--min-tokens-per-s",
        "200",
        "--quant",
        "bf16,fp8",
        "--kv-quant",
        "fp8",
        "--engine",
        "sglang",
        "--top",
        "3",
        "--json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(doc["accepted"]) <= 3
    best = doc["best"]
    assert best["prefill"]["ttft_ms"] <= 5000 and best["decode"]["tpot_ms"] <= 80
    assert best["decode"]["tokens_per_s_total"] >= 200
    strict = json.loads(
        run(
            "plan",
            "qwen3-30b-a3b",
            "--gpu",
            "l40s",
            "--max-gpus",
            "1",
            "--min-tokens-per-s",
            "1000000",
            "--json",
        ).stdout
    )
    assert strict["best"] is None
    assert any("tokens/s <" in f for c in strict["rejected"] for f in c["failures"])


@pytest.mark.parametrize(("gpu", "noted"), [("h200", True), ("b200", False)])
def test_sglang_fi_off_blackwell_is_noted(gpu: str, noted: bool):
    r = run(
        "latency", "deepseek-r1", "--gpu", gpu, "--gpus", "8", "--tp", "8",
        "--engine", "sglang-fi", "-q", "fp8", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["notes"]
    assert any("Blackwell" in n and gpu in n for n in notes) is noted
