"""TensorRT-LLM 0.9's MoE without the plugin: every expert over every token (issue 17)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.perf.engines import ENGINES, resolve_engine
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step, prefill


def _phases(quant: str, tokens: int) -> tuple[float, float, float, float]:
    """(compute, memory) of a Mixtral TP2 H100 pass under trtllm-0.9 and under the same
    profile with the plugin path for every datatype."""
    spec = load_model("mixtral-8x7b")
    scheme, gpu, layout = resolve_scheme(quant, spec), resolve_gpu("h100-sxm"), Layout(tp=2)
    ootb = resolve_engine("trtllm-0.9")
    plugin = replace(ootb, ootb_moe_compute=())
    a = make_setup(spec, scheme, gpu, layout, ootb)
    b = make_setup(spec, scheme, gpu, layout, plugin)
    if tokens == 1:
        pa, pb = decode_step(a, 1, 128), decode_step(b, 1, 128)
    else:
        pa, pb = prefill(a, 1, tokens), prefill(b, 1, tokens)
    return pa.compute_s, pb.compute_s, pa.memory_s, pb.memory_s


def test_only_the_09_profile_runs_fp8_experts_out_of_the_box():
    assert resolve_engine("trtllm-0.9.0").id == "trtllm-0.9"
    assert ENGINES["trtllm-0.9"].runs_moe_ootb("fp8")
    assert not ENGINES["trtllm-0.9"].runs_moe_ootb("bf16")  # fp16/bf16/int8/int4: the plugin
    for e in ENGINES.values():
        if e.id != "trtllm-0.9":
            assert not e.runs_moe_ootb("fp8")


def test_fp8_prefill_prices_all_eight_experts_per_token_by_hand():
    """Mixtral: 32 layers, 3 x 4096 x 14336 weights per expert, top-2 of 8. 2048 tokens on
    TP2: the dense pass adds (8 - 2) picks per token of expert FLOPs at 0.7 of the FP8 peak."""
    ca, cb, ma, mb = _phases("fp8", 2048)
    extra_flops = 2 * 3 * 4096 * 14336 * (8 - 2) * 2048 * 32 / 2
    assert ca - cb == pytest.approx(extra_flops / (1979e12 * 0.7), rel=1e-3)
    # 2048 tokens touch every expert either way; the plugin path also moves its expanded
    # rows' activations (perf.moe_activations; FP8, TP2, top-2: the token's quantize
    # 4096 x 3 / 2 + 4096 x (3 x 1 + 2 x 2) + 7168 x (2 x 2 x 2 + 2 x 1) + 4096 x 2 / 2
    # = 6,144 + 28,672 + 71,680 + 4,096 = 110,592 B a row), the dense pass none
    rows = 2048 * 2 * 110_592 * 32
    assert mb - ma == pytest.approx(rows / (3.35e12 * 0.88), rel=1e-3)


def test_fp8_decode_reads_every_expert_by_hand():
    """Batch 1: the plugin reads the 2 routed experts, the dense pass all 8 (FP8, 1 byte)."""
    _, _, ma, mb = _phases("fp8", 1)
    extra_bytes = 3 * 4096 * 14336 * (8 - 2) * 32 / 2 - 2 * 110_592 * 32  # less the rows'
    assert ma - mb == pytest.approx(extra_bytes / (3.35e12 * 0.88), rel=1e-3)


def test_fp16_experts_keep_the_plugin_path():
    ca, cb, ma, mb = _phases("fp16", 2048)
    assert (ca, ma) == (cb, mb)


def test_the_09_profile_is_trtllm_but_for_its_moe_path():
    """Its efficiencies and overheads are the trtllm profile's (one set of constants), but for
    the GEMM, prompt-attention and NVFP4 fused-MoE rates measured on 1.3.0rc20's kernels
    (perf/trtllm_gemm.py, perf/trtllm_fmha.py, perf/trtllm_moe.py)."""
    old, new = ENGINES["trtllm-0.9"], ENGINES["trtllm"]
    assert replace(old, id=new.id, description=new.description, source=new.source) == replace(
        new,
        ootb_moe_compute=old.ootb_moe_compute,
        compute_efficiency_by_gpu=(),
        context_fmha_by_gpu=(),
        fused_moe_by_gpu=(),
    )


def test_experts_over_every_token_take_no_routing_skew():
    """Mixtral FP8 on EP2: trtllm-0.9 routes nothing (every expert over every token), so the
    routing skew moves neither its expert compute nor its all-to-all; an engine routing FP8
    experts (sglang: all-to-all under attention DP + EP) sees both move."""
    spec = load_model("mixtral-8x7b")
    scheme, gpu, layout = (
        resolve_scheme("fp8", spec),
        resolve_gpu("h100-sxm"),
        Layout(tp=1, ep=2, dp=2),
    )

    def step(engine: str, skew: float) -> tuple[float, float]:
        setup = make_setup(spec, scheme, gpu, layout, resolve_engine(engine), routing_skew=skew)
        p = decode_step(setup, 64, 512)
        return p.compute_s, p.communication_s

    assert step("trtllm-0.9", 0.0) == pytest.approx(step("trtllm-0.9", 1.5))
    skewed, uniform = step("sglang", 1.5), step("sglang", 0.0)
    assert skewed[0] > uniform[0] and skewed[1] > uniform[1]
