"""The offline benchmark run (perf.offline_run) and the host time per request (perf.host)."""

from __future__ import annotations

import math

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import resolve_engine
from moeplan.perf.host import eager_step_s, host_s_per_request
from moeplan.perf.offline_run import (
    EngineCaps,
    cuda_graph_batch,
    eager_ops,
    offline_run,
    trtllm_bench_caps,
)
from moeplan.perf.parallel import Layout
from moeplan.perf.serving import Workload, mixed_step
from moeplan.perf.serving_search import Deployment, setup_for


def _setup(engine: str = "trtllm", gpu: str = "b200"):
    spec = load_model("qwen3-30b-a3b")
    dep = Deployment(
        spec, resolve_scheme("nvfp4", spec), resolve_gpu(gpu), resolve_engine(engine), "fp8"
    )
    return setup_for(dep, Layout(tp=1, ep=1, pp=1, dp=1))


def test_trtllm_bench_caps_follow_its_heuristic():
    # B200 193,273,528,320 B; Qwen3-30B-A3B 30,532,122,624 params x 0.5 B (NVFP4);
    # KV 2 x 48 layers x 4 heads x 128 x 1 B = 49,152 B/token, 2,000 tokens a request:
    # (193,273,528,320 - 15,266,061,312) x 0.9 / (49,152 x 2,000) = 1,629.7 requests
    # -> batch 256 x ceil(1629.7 / 256) = 1,792; tokens 1,629.7 x 2 = 3,259.4 -> 3,328 (256s)
    caps = trtllm_bench_caps(_setup(), Workload(1000, 1000), 1)
    assert caps == EngineCaps(1792, 3328)
    # chunked prefill off: the token budget holds a whole prompt beside a full batch
    long = trtllm_bench_caps(_setup(), Workload(20000, 2000), 1)
    assert long.max_num_tokens >= 20000 + long.max_batch_size


def test_offline_run_ramp_and_tail_cost_steps():
    setup, wl = _setup(), Workload(1000, 1000)
    caps = EngineCaps(1792, 3328)
    run = offline_run(setup, wl, 3000, caps, 1000)
    # 3000 requests through at most 1000 at a time: at least 3 waves of 1000 steps
    assert run.steps >= math.ceil(3000 / 1000) * 1000
    assert run.mean_running <= 1000
    # never faster than the steady state at the full room
    full = mixed_step(setup, wl, 1000, 1000.0)
    assert run.output_tok_s(wl) < 1000 / full.total_s
    with pytest.raises(Exception, match="caps"):
        offline_run(setup, wl, 10, EngineCaps(64, 512), 100)


def test_cuda_graph_batch_pads_to_the_perf_overview_sizes():
    # perf-overview llm_options.yml: ..., 128, 256, 384, 512, 1024, 2048, 4096, 8192
    caps = EngineCaps(2304, 4608)
    assert cuda_graph_batch(343, caps) == 384
    assert cuda_graph_batch(179, EngineCaps(1280, 2304)) == 256
    assert cuda_graph_batch(384, caps) == 384
    assert cuda_graph_batch(0, caps) == 0
    # sizes above the largest decode batch are cut; that batch is captured instead
    assert cuda_graph_batch(2100, caps) == 2304
    assert cuda_graph_batch(600, EngineCaps(640, 2048)) == 640
    assert cuda_graph_batch(600, EngineCaps(1792, 512)) == 600  # no graph holds it: unpadded


def test_padded_rows_cost_gemm_work_but_no_kv_reads():
    setup, wl = _setup(), Workload(1000, 1000)
    real = mixed_step(setup, wl, 600, 0.0)
    assert mixed_step(setup, wl, 600, 0.0, graph_batch=600).total_s == real.total_s
    padded = mixed_step(setup, wl, 600, 0.0, graph_batch=1024)
    full = mixed_step(setup, wl, 1024, 0.0)
    # the padding rows run the GEMMs (compute grows) and move their MoE activations
    # (perf.moe_activations: 424 rows x 8 picks x 19,824 B x 48 layers) but read no KV
    assert padded.compute_s > real.compute_s
    pad_bytes = 424 * 8 * 19824 * 48
    added = (padded.memory_s - real.memory_s) * setup.rates.stream_bw_bytes_per_s
    assert added == pytest.approx(pad_bytes, rel=1e-3)
    assert real.total_s < padded.total_s < full.total_s


def test_eager_prompt_step_takes_its_launch_time():
    # TransformerEngine issue 2053: one PyTorch op 13.48 us of CPU on x86, 37.08 us on Grace
    assert eager_step_s("trtllm", "b200", 0.01, 1000) == pytest.approx(0.01348)
    assert eager_step_s("trtllm", "b200", 0.02, 1000) == pytest.approx(0.02)  # GPU-bound
    assert eager_step_s("trtllm", "gb200-nvl72", 0.01, 1000) == pytest.approx(0.03708)
    assert eager_step_s("vllm", "b200", 0.01, 1000) == 0.01  # no published figure
    # Qwen3-30B-A3B: 48 layers x (7 attention + 2 q/k-norm + 9 routed MoE) = 864 kernels
    setup = _setup(gpu="gb200-nvl72")
    assert eager_ops(setup) == pytest.approx(864)
    # one 16-token prompt, one output token: a single eager step, launch-bound on Grace
    run = offline_run(setup, Workload(16, 1), 1, EngineCaps(64, 2048), 100)
    assert run.steps == 1
    assert mixed_step(setup, Workload(16, 1), 0, 16.0).total_s < 864 * 37.08e-6
    assert run.seconds == pytest.approx(864 * 37.08e-6)


def test_host_time_per_request():
    # PR 16564: 8.8 ms / 256 requests on Grace; x86 faster by 37.08 / 13.48 (TE issue 2053)
    assert host_s_per_request("trtllm", "gb200-nvl72") == pytest.approx(34.375e-6)
    assert host_s_per_request("trtllm", "b200") == pytest.approx(34.375e-6 * 13.48 / 37.08)
    assert host_s_per_request("vllm", "b200") == 0.0
    # it adds to the serving step in proportion to the requests
    wl = Workload(1000, 1000)
    trt = mixed_step(_setup(), wl, 1024, 0.0).total_s
    grace = mixed_step(_setup(gpu="gb200-nvl72"), wl, 1024, 0.0).total_s
    assert grace > trt


def test_trtllm_moe_under_attention_dp_all_gathers():
    # CutlassFusedMoE with attention DP: all-gather the FP8 inputs (1 B/value + 8 B per top_k
    # choice) and reduce-scatter BF16 outputs (2 B/value): Maverick, top-1, hidden 5120:
    # (5120 x 1 + 8 + 5120 x 2) = 15,368 B per token per MoE layer before the ring's 7/8
    from moeplan.perf.moe_comm import allgather_moe_bytes_per_layer
    from moeplan.perf.phases import decode_step

    assert allgather_moe_bytes_per_layer(1, 5120, 1, "fp8") == 15368
    spec = load_model("llama-4-maverick")
    layout = Layout(tp=1, ep=8, pp=1, dp=8)

    def comm(engine: str) -> float:
        dep = Deployment(
            spec, resolve_scheme("fp8", spec), resolve_gpu("h200"), resolve_engine(engine), "fp8"
        )
        return decode_step(setup_for(dep, layout), 8192, 2000).communication_s

    # top-1: an all-to-all moves one BF16 copy each way; the all-gather moves every token
    assert comm("trtllm") > 2 * comm("sglang")
