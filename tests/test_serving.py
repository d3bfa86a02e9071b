"""`moeplan throughput`: KV capacity arithmetic, cost to the cent, the frontier, launch lines."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from moeplan.cli import app
from moeplan.hardware.gpus import resolve_gpu
from moeplan.hardware.prices import price_for, shipped_prices, usd_per_million_tokens
from moeplan.memory.quant import is_native, resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.serving import Workload, replica_capacity
from moeplan.perf.serving_search import Deployment, Targets, pareto, search_serving
from moeplan.perf.speculation import Speculation
from moeplan.plan.launch import LaunchInputs, launch_commands, launch_notes

runner = CliRunner()
NO_TARGETS = Targets()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_capacity_is_the_kv_arithmetic():
    # Mixtral-8x7B KV: 2 x 32 layers x 8 KV heads x 128 x 2 B = 131,072 B/token (README);
    # TP2 halves the heads: 65,536 B/token/GPU; a request of 1000 + 1000 tokens holds
    # 2000 x 65,536 = 131,072,000 B per GPU.
    spec = load_model("mixtral-8x7b")
    setup = make_setup(spec, resolve_scheme("bf16", spec), resolve_gpu("h100"), Layout(tp=2))
    cap = replica_capacity(setup, Workload(1000, 1000), 0.9)
    assert cap.kv_bytes_per_request_per_gpu == 2000 * 65_536
    usable = resolve_gpu("h100").memory_bytes * 0.9
    free = usable - cap.weights_bytes_per_gpu - cap.overhead_bytes_per_gpu
    assert cap.free_bytes_per_gpu == pytest.approx(free)
    assert cap.per_replica == math.floor(free / (2000 * 65_536))


def test_capacity_counts_dp_groups_and_replicas():
    # attention DP: each of the 8 groups holds its own requests, so the replica holds 8 x what
    # one group holds; the JSON total is that x the replicas (16 GPUs / 8 = 2)
    r = run(
        "throughput", "qwen3-235b-a22b", "--gpu", "h200", "--gpus", "16", "--quant", "fp8",
        "--kv-quant", "fp8", "--input", "1000", "--output", "1000", "--tp", "1", "--ep", "8",
        "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["max_concurrency_per_replica"] % 8 == 0
    assert doc["max_concurrency"] == 2 * doc["max_concurrency_per_replica"]
    assert all(p["layout"] == "TP1+DP8+EP8" and p["replicas"] == 2 for p in doc["frontier"])


def test_cost_to_the_cent():
    # $2.50/GPU-h x 8 GPUs = $20.00/h; $/M output tokens = 20 / (tok/s x 3600) x 1e6
    assert usd_per_million_tokens(20.0, 1000.0) == pytest.approx(20 / 3.6e6 * 1e6)  # 5.5556
    r = run(
        "throughput", "mixtral-8x7b", "--gpu", "h100", "--gpus", "8", "--quant", "bf16",
        "--input", "1000", "--output", "200", "--gpu-hour-usd", "2.5", "--json",
    )  # fmt: skip
    doc = json.loads(r.stdout)
    for p in doc["frontier"]:
        assert p["usd_per_hour"] == 20.0
        expected = 20.0 / (p["output_tok_s"] * 3600) * 1e6
        assert p["usd_per_million_output_tokens"] == pytest.approx(expected, abs=0.005)
    assert doc["price"]["provider"] == "given with --gpu-hour-usd"


def test_shipped_prices_have_provenance_and_one_default():
    prices = shipped_prices()
    assert prices
    for p in prices:
        assert p.source and p.provider and p.read
    for gpu in {p.gpu for p in prices}:
        resolve_gpu(gpu)  # every priced GPU is in the catalog
        assert sum(p.default for p in prices if p.gpu == gpu) == 1
    assert price_for("h100-sxm").default
    assert price_for("h100-sxm", gpu_hour_usd=1.0).usd_per_gpu_hour == 1.0  # type: ignore[union-attr]


def test_price_file_and_bad_price_input(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("prices:\n- {gpu: h100-sxm, usd_per_gpu_hour: 1.5, provider: me, source: quote}\n")
    args = ["throughput", "mixtral-8x7b", "--gpu", "h100", "--gpus", "2", "--input", "100"]
    r = run(*args, "--output", "100", "--price-file", str(f), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["price"]["usd_per_gpu_hour"] == 1.5
    f.write_text("prices:\n- {gpu: h100-sxm, usd_per_gpu_hour: -1, provider: me, source: q}\n")
    r = run(*args, "--output", "100", "--price-file", str(f))
    assert r.exit_code == 2 and "positive" in r.stderr


def test_speculation_tokens_per_step():
    # chain acceptance a = 0.5, k = 2 drafts: 1 + 0.5 + 0.25 = 1.75 tokens per step
    assert Speculation(2, 0.5).tokens_per_step == pytest.approx(1.75)
    assert Speculation().tokens_per_step == 1.0


def _result(targets: Targets = NO_TARGETS, **kw):
    spec = load_model("qwen3-30b-a3b")
    dep = Deployment(
        spec, resolve_scheme("bf16", spec), resolve_gpu("h100"), resolve_engine("vllm"), **kw
    )
    return search_serving(dep, Workload(1024, 256), 4, targets)


def test_frontier_is_pareto_and_best_meets_targets():
    r = _result(Targets(min_tok_s_user=50))
    f = r.frontier
    assert f and pareto(list(f)) == f
    for a, b in itertools.pairwise(f):
        assert a.output_tok_s_per_user >= b.output_tok_s_per_user
        assert a.output_tok_s_per_gpu < b.output_tok_s_per_gpu
    assert r.best is not None and r.best.output_tok_s_per_user >= 50
    points = [p for lay in r.layouts for p in lay.points]
    meeting = [p for p in points if p.output_tok_s_per_user >= 50]
    assert r.best.output_tok_s_per_gpu == max(p.output_tok_s_per_gpu for p in meeting)
    p = r.best  # per user counts the wait for the first token
    assert p.output_tok_s_per_user == pytest.approx(256 / (p.ttft_s + 256 * p.tpot_s))
    assert p.output_tok_s_per_gpu == pytest.approx(p.output_tok_s / 4)


def test_no_point_gives_a_reason():
    r = _result(Targets(min_tok_s_user=100_000))
    assert r.best is None and "tok/s/user" in r.reason


def test_speculation_and_disaggregation_change_the_answer():
    base = _result().frontier[0]
    mtp = _result(speculation=Speculation(1, 0.8)).frontier[0]
    assert mtp.decode_tok_s_per_user > base.decode_tok_s_per_user
    dis = _result(disaggregated=True)
    assert all(p.prefill_replicas >= 1 for lay in dis.layouts for p in lay.points)


def test_launch_lines():
    x = LaunchInputs("Qwen/Qwen3-235B-A22B", Layout(tp=1, ep=8, dp=8), 512, 2000, "fp8")
    cmds = launch_commands(x)
    assert "--data-parallel-size 8 --enable-expert-parallel" in cmds["vllm"]
    assert "--max-num-seqs 64" in cmds["vllm"]  # per DP rank: 512 / 8
    assert "--tp 8 --dp 8 --enable-dp-attention --ep 8" in cmds["sglang"]
    assert "--tp_size 8 --ep_size 8" in cmds["trtllm"]
    assert "llamacpp" not in cmds  # no expert parallelism in llama.cpp
    assert "trtllm_mla" not in cmds["sglang"]  # the plain sglang profile: no backend flags
    fi = launch_commands(replace(x, engine="sglang-fi"))["sglang"]
    assert fi.endswith(
        "--mem-fraction-static 0.9 --attention-backend trtllm_mla "
        "--moe-runner-backend flashinfer_trtllm --enable-flashinfer-allreduce-fusion"
    )
    plain = launch_commands(LaunchInputs("m.gguf", Layout(pp=2), 4, 4096, "int8"))
    assert plain["llamacpp"] == (
        "llama-server -m m.gguf -c 16384 -np 4 -ngl 999 --split-mode layer -ctk q8_0 -ctv q8_0"
    )


def test_launch_lines_carry_the_planned_weight_quant():
    """Issue 14: FP8 planned on a BF16 checkpoint is quantized on load by vLLM/SGLang; a scheme
    no engine makes on load gets a note instead of a flag; the native scheme changes nothing."""
    base = LaunchInputs("Qwen/Qwen3-235B-A22B", Layout(tp=8), 64, 2000)
    fp8 = replace(base, quant="fp8", quant_native=False, checkpoint_quant="bf16")
    cmds = launch_commands(fp8)
    assert cmds["vllm"] == (
        "vllm serve Qwen/Qwen3-235B-A22B --tensor-parallel-size 8 --max-num-seqs 64 "
        "--max-model-len 2000 --quantization fp8 --gpu-memory-utilization 0.9"
    )
    assert cmds["sglang"] == (
        "python -m sglang.launch_server --model-path Qwen/Qwen3-235B-A22B --tp 8 "
        "--max-running-requests 64 --context-length 2000 --quantization fp8 "
        "--mem-fraction-static 0.9"
    )
    assert cmds["trtllm"] == launch_commands(base)["trtllm"]
    notes = launch_notes(fp8, list(cmds))
    assert notes[0].startswith("vllm, sglang: weights planned as fp8;")
    assert "ModelOpt" in notes[1]
    assert launch_notes(base, list(cmds)) == []

    int4 = replace(fp8, quant="int4")
    assert launch_commands(int4) == launch_commands(base)  # no flag: needs an int4 checkpoint
    assert "checkpoint already quantized to int4" in launch_notes(int4, ["vllm"])[0]
    fp8_on_fp8 = replace(fp8, checkpoint_quant="fp8-block")  # not from a 16-bit checkpoint
    assert launch_commands(fp8_on_fp8) == launch_commands(base)
    llama = replace(base, model_ref="m.gguf", layout=Layout(), quant="q4_k_m", quant_native=False)
    assert launch_notes(llama, list(launch_commands(llama)))[-1] == (
        "llamacpp: -m needs a GGUF quantized as q4_k_m (llama-quantize)"
    )
    assert "GGUF has no fp8" in launch_notes(replace(llama, quant="fp8"), ["llamacpp"])[-1]


def test_launch_lines_switch_on_mtp_drafting():
    """throughput --mtp K on a model with MTP layers: each engine's own MTP flags, a chain of K
    draft tokens; a model without MTP layers gets a note and no flag."""
    base = LaunchInputs("deepseek-ai/DeepSeek-V3", Layout(tp=8), 64, 2000)
    mtp = replace(base, draft_tokens=3, mtp_layers=1)
    cmds = launch_commands(mtp)
    assert cmds["vllm"].endswith(
        '--speculative-config \'{"method": "mtp", "num_speculative_tokens": 3}\''
    )
    assert cmds["sglang"].endswith(
        "--speculative-algorithm EAGLE --speculative-num-steps 3 --speculative-eagle-topk 1 "
        "--speculative-num-draft-tokens 4"
    )
    assert cmds["trtllm"].endswith(
        "--extra_llm_api_options extra_options.yaml  # "
        "speculative_config: {decoding_type: MTP, num_nextn_predict_layers: 3}"
    )
    assert "speculative" not in cmds["llamacpp"]
    assert launch_notes(mtp, list(cmds)) == [
        "llamacpp: served without MTP drafting (no flag planned)"
    ]
    dp = launch_commands(replace(mtp, layout=Layout(tp=1, ep=8, dp=8)))["trtllm"]
    assert dp.endswith(
        "# enable_attention_dp: true; speculative_config: {decoding_type: MTP, "
        "num_nextn_predict_layers: 3}"
    )
    no_mtp = replace(base, draft_tokens=2)  # a model without MTP layers
    assert launch_commands(no_mtp) == launch_commands(base)
    assert "has no MTP layers" in launch_notes(no_mtp, ["vllm"])[0]


def test_throughput_mtp_drafting_reaches_the_launch_line():
    args = ["throughput", "qwen3-next-80b-a3b", "--gpu", "h100", "--gpus", "2", "--quant", "fp8"]
    args += ["--input", "1000", "--output", "500", "--mtp", "2", "--mtp-acceptance", "0.7"]
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert '"num_speculative_tokens": 2' in doc["launch"]["vllm"]
    assert "--speculative-num-draft-tokens 3" in doc["launch"]["sglang"]


def test_native_quant_is_recognised_by_formats():
    qwen = load_model("qwen3-235b-a22b")  # a BF16 checkpoint
    assert is_native(resolve_scheme("native", qwen), qwen)
    assert is_native(resolve_scheme("bf16", qwen), qwen)
    assert not is_native(resolve_scheme("fp8", qwen), qwen)


def test_throughput_launch_quantizes_the_planned_fp8():
    args = ["throughput", "qwen3-235b-a22b", "--gpu", "h200", "--gpus", "8"]
    args += ["--input", "1000", "--output", "1000", "--quant", "fp8"]
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert "--quantization fp8" in doc["launch"]["vllm"]
    assert "--quantization fp8" in doc["launch"]["sglang"]
    assert any("ModelOpt" in n for n in doc["launch_notes"])
    native = json.loads(CliRunner().invoke(app, [*args[:-2], "--json"]).output)
    assert "--quantization" not in native["launch"]["vllm"]
    assert native["launch_notes"] == []


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--gpus", "0"], "--gpus"),
        (["--gpus", "3", "--tp", "2"], "multiple"),
        (["--gpus", "8", "--tp", "2", "--ep", "3"], "--ep"),
        (["--gpus", "8", "--plot", "x.jpg"], "--plot"),
        (["--gpus", "8", "--mtp-acceptance", "2"], "acceptance"),
        (["--gpus", "8", "--mtp", "100000"], "--mtp"),
    ],
)
def test_bad_input_is_one_line(extra, message):
    r = run(
        "throughput", "qwen3-30b-a3b", "--gpu", "h100", "--input", "100", "--output", "10", *extra
    )
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "Traceback" not in r.output


def test_unpriced_gpu_says_so():
    r = run(
        "throughput",
        "gpt-oss-20b",
        "--gpu",
        "h800",
        "--gpus",
        "1",
        "--input",
        "100",
        "--output",
        "10",
    )
    assert r.exit_code == 0, r.output
    assert "no price for h800" in r.stdout


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_plot(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"f{suffix}"
    r = run(
        "throughput", "qwen3-30b-a3b", "--gpu", "h100", "--gpus", "2", "--input", "512",
        "--output", "128", "--min-tok-s-user", "40", "--plot", str(path),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert path.stat().st_size > 1000


def test_throughput_start_imports_no_plotting():
    code = (
        "import sys; sys.argv=['moeplan','throughput','--help']\n"
        "from moeplan.cli import register; register(['serving'])\n"
        "print(any(m.split('.')[0] in ('matplotlib','torch','numpy') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_latency_batch_that_does_not_fit_is_a_row():
    r = run(
        "latency", "qwen3-235b-a22b", "--gpu", "h100", "--gpus", "8", "--quant", "fp8",
        "--batch", "1,4096", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    small, large = json.loads(r.stdout)["points"]
    assert small["fits"] and small["missing_bytes_per_gpu"] == 0
    assert not large["fits"]
    usable = resolve_gpu("h100").memory_bytes * 0.9
    assert large["missing_bytes_per_gpu"] == math.ceil(large["memory_per_gpu_bytes"] - usable)
    table = run("latency", "qwen3-235b-a22b", "--gpu", "h100", "--gpus", "8", "--quant", "fp8",
                "--batch", "1,4096")  # fmt: skip
    assert "does not fit" in table.stdout and "per GPU missing" in table.stdout


def test_latency_dp_pins_attention_dp():
    r = run("latency", "deepseek-v3", "--gpu", "h200", "--tp", "1", "--dp", "8", "--json")
    assert r.exit_code == 0, r.output
    lay = json.loads(r.stdout)["layout"]
    assert (lay["tp"], lay["dp"], lay["ep"], lay["gpus"]) == (1, 8, 8, 8)


def test_plan_with_a_demand_ranks_by_cost_and_meets_it():
    r = run(
        "plan", "qwen3-30b-a3b", "--gpu", "h100,h200,l40s", "--max-gpus", "16", "--input", "1000",
        "--output", "250", "--users", "300", "--min-tok-s-user", "30", "--quant", "bf16,fp8",
        "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    costs = [o["usd_per_million_output_tokens"] for o in doc["accepted"]]
    assert costs == sorted(costs)
    best = doc["best"]
    assert best["concurrency"] >= 300 and best["output_tok_s_per_user"] >= 30
    assert best["gpus"] <= 16 and best["gpus"] == best["replicas"] * (
        best["tp"] * best["dp"] * best["pp"]
    )
    # $/M output tokens from $/hour and the deployment's output tokens/s:
    # output tok/s = tok/s/GPU x GPUs
    tok_s = best["output_tok_s_per_gpu"] * best["gpus"]
    assert best["usd_per_million_output_tokens"] == pytest.approx(
        best["usd_per_hour"] / (tok_s * 3600) * 1e6, rel=1e-3
    )
    assert "vllm" in doc["launch"]
    by_gpus = run(
        "plan", "qwen3-30b-a3b", "--gpu", "h100,h200,l40s", "--max-gpus", "16", "--input", "1000",
        "--output", "250", "--users", "300", "--min-tok-s-user", "30", "--quant", "bf16,fp8",
        "--rank", "gpus", "--json",
    )  # fmt: skip
    gpus = [o["gpus"] for o in json.loads(by_gpus.stdout)["accepted"]]
    assert gpus == sorted(gpus)


def test_plan_demand_rejections_and_folded_options():
    r = run(
        "plan", "deepseek-v3", "--gpu", "h100", "--max-gpus", "8", "--target-output-tok-s",
        "1000", "--min-tok-s-user", "10", "--quant", "native", "--json",
    )  # fmt: skip
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["best"] is None and doc["rejected"]
    assert all(o["failed"] for o in doc["rejected"])
    r = run("plan", "qwen3-30b-a3b", "--gpu", "h100", "--users", "10", "--concurrency", "4")
    assert r.exit_code == 2 and "--users" in r.stderr
    r = run("plan", "qwen3-30b-a3b", "--gpu", "h100", "--min-tok-s-user", "10")
    assert r.exit_code == 2 and "demand" in r.stderr


def test_check_serving_limits(tmp_path):
    f = tmp_path / "b.yaml"
    f.write_text(
        "budgets:\n- name: serve\n  model: qwen3-30b-a3b\n  quant: fp8\n  gpu: h100-sxm\n"
        "  gpus: 1\n  batch: 64\n  input: 1000\n  output: 250\n  gpu_hour_usd: 2.5\n"
        "  limits: {min_output_tok_s_per_gpu: 1, max_usd_per_million_tokens: 0.001}\n"
    )
    r = run("check", str(f), "--format", "json")
    assert r.exit_code == 1, r.output  # $0.001/M is below any real cost
    doc = json.loads(r.stdout)
    rows = {x["limit"]: x for x in doc["results"]}
    assert rows["min_output_tok_s_per_gpu"]["passed"]
    assert not rows["max_usd_per_million_tokens"]["passed"]
    tok_s = rows["min_output_tok_s_per_gpu"]["value"]  # one GPU, so tok/s/GPU = tok/s
    # one GPU at $2.50/h: $/M = 2.5 / (tok/s x 3600) x 1e6
    cost = rows["max_usd_per_million_tokens"]["value"]
    assert cost == pytest.approx(2.5 / (tok_s * 3600) * 1e6, rel=1e-6)


def test_plan_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "plan.svg"
    r = run(
        "plan", "qwen3-30b-a3b", "--gpu", "h100,l40s", "--max-gpus", "4", "--users", "50",
        "--min-tok-s-user", "30", "--quant", "fp8", "--plot", str(path),
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "<svg" in path.read_text()[:2000]


def test_throughput_error_band_is_the_spread_of_counted_serving_residuals():
    """The 10th-90th percentile of the counted residuals (statistics.quantiles by hand), over the
    engine's runs on the GPU's vendor, else the engine's, else every engine's."""
    import statistics

    from moeplan.plan.validate_serving import serving_error_band, validate_serving_all

    def deciles(errors: list[float]) -> list[float]:
        cuts = statistics.quantiles([e * 100 for e in errors], n=10, method="inclusive")
        return [round(cuts[0], 1), round(cuts[-1], 1)]

    counted = [v for v in validate_serving_all() if v.error is not None and not v.not_counted]
    trt = [v.error for v in counted if "_trtllm_" in v.id]
    band, scope = serving_error_band("trtllm")
    assert band == deciles(trt)
    assert scope == f"engine trtllm: {len(trt)} records"
    vllm_amd = [v.error for v in counted if "_vllm_" in v.id and "mi3" in v.id]
    vllm_nv = [v.error for v in counted if "_vllm_" in v.id and "mi3" not in v.id]
    assert len(vllm_amd) >= 10 and len(vllm_nv) >= 10
    assert serving_error_band("vllm", "AMD") == (
        deciles(vllm_amd),
        f"engine vllm on amd GPUs: {len(vllm_amd)} records",
    )
    band, _ = serving_error_band("vllm", "NVIDIA")
    assert band == deciles(vllm_nv)
    assert band[1] < serving_error_band("vllm", "AMD")[0][1]  # the ROCm rows stay apart
    # llama.cpp has no counted serving record: the band falls back to every engine's, and says so
    assert not [v for v in counted if "_llamacpp_" in v.id]
    band, scope = serving_error_band("llamacpp", "nvidia")
    assert band == deciles([v.error for v in counted])
    assert scope.startswith(f"all engines: {len(counted)} records (0 of engine llamacpp)")
    out = CliRunner().invoke(
        app,
        [
            "throughput",
            "qwen3-30b-a3b",
            "--gpu",
            "b200",
            "--gpus",
            "1",
            "--input",
            "1000",
            "--output",
            "1000",
            "--engine",
            "trtllm",
            "--json",
        ],
    )
    doc = json.loads(out.output)
    assert doc["error_band_pct"] == serving_error_band("trtllm", "nvidia")[0]
    assert "10th, 90th percentile" in doc["error_band"]


def test_serving_medians_per_engine_by_hand():
    from moeplan.cli.views.serving import serving_validate_json, serving_validate_table
    from moeplan.plan.validate_serving import (
        ServingValidation,
        median_abs_serving_error,
        median_abs_serving_error_by_engine,
    )

    def rec(engine: str, predicted: float | None, not_counted: str = "") -> ServingValidation:
        return ServingValidation(f"r{engine}{predicted}", 100.0, predicted, "tp1", None, "",
                                 not_counted, engine)  # fmt: skip

    results = [
        rec("trtllm", 110.0),  # +10%
        rec("trtllm", 70.0),  # -30%
        rec("trtllm", 120.0),  # +20%
        rec("trtllm", 500.0, "not counted"),  # out of every median
        rec("vllm", 150.0),  # +50%
        rec("vllm", 95.0),  # -5%
        rec("vllm", None),  # no prediction: out
    ]
    by_engine = median_abs_serving_error_by_engine(results)
    # trtllm |errors| 10, 30, 20 -> 20; vllm 50, 5 -> 27.5; overall 5,10,20,30,50 -> 20
    assert list(by_engine) == ["trtllm", "vllm"]
    assert by_engine["trtllm"][0] == pytest.approx(0.20) and by_engine["trtllm"][1] == 3
    assert by_engine["vllm"][0] == pytest.approx(0.275) and by_engine["vllm"][1] == 2
    assert median_abs_serving_error(results) == pytest.approx(0.20)
    notes = serving_validate_table(results).notes
    assert "trtllm: median |error| 20.0% over 3" in notes
    assert "vllm: median |error| 27.5% over 2" in notes
    doc = serving_validate_json(results)["median_abs_error_by_engine"]
    assert doc["vllm"]["counted"] == 2
    assert doc["vllm"]["median_abs_error"] == pytest.approx(0.275)
