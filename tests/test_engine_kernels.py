"""llama.cpp's kernel count and per-backend kernel cost (issue 17): expected values by hand."""

from __future__ import annotations

import pytest

from moeplan.hardware.gpus import resolve_gpu
from moeplan.memory.quant import resolve_scheme
from moeplan.model.catalog import load_model
from moeplan.model.hf_config import spec_from_config
from moeplan.perf.engines import (
    CUDA_GRAPH_KERNEL_S,
    ENGINES,
    LLAMACPP_CUDA_KERNEL_S,
    LLAMACPP_KERNELS,
    LLAMACPP_METAL_KERNEL_S,
    resolve_engine,
)
from moeplan.perf.kernel_counts import SGLANG_FI_KERNEL_S
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step, kernels_per_step


def test_llamacpp_kernels_per_layer_from_its_fused_graph():
    # attention: norm 1 + Q,K,V 3 x (quantize + mat-vec) + rope Q 1 + rope/set_rows K 1
    # + set_rows V 1 + flash attention and combine 2 + O 2 + residual add 1 = 15
    assert LLAMACPP_KERNELS.attention == 1 + 3 * 2 + 1 + 1 + 1 + 2 + 2 + 1 == 15
    assert LLAMACPP_KERNELS.qk_norm == 0  # rms_norm+mul+rope fused
    # routed MoE: norm 1 + router 1 + fused top-k 1 + gate/up/GLU 2 + down 2 + sum 1 + add 1
    assert LLAMACPP_KERNELS.moe_ffn == 1 + 1 + 1 + 2 + 2 + 1 + 1 == 9
    assert resolve_engine("llamacpp").kernels == LLAMACPP_KERNELS


def test_gpt_oss_20b_kernel_count_by_hand():
    spec = load_model("gpt-oss-20b")
    assert spec.num_layers == 24 and spec.num_moe_layers == 24
    assert kernels_per_step(spec, counts=LLAMACPP_KERNELS) == 24 * (15 + 9) == 576
    assert kernels_per_step(spec) == 24 * (7 + 9) == 384  # the vLLM/SGLang count


def test_kernel_cost_by_backend():
    llama = ENGINES["llamacpp"]
    assert llama.kernel_overhead_for("NVIDIA") == LLAMACPP_CUDA_KERNEL_S == 1.3e-6
    assert llama.kernel_overhead_for("Apple") == LLAMACPP_METAL_KERNEL_S == 5.16e-6
    assert llama.kernel_overhead_for("AMD") == CUDA_GRAPH_KERNEL_S  # HIP: the shared value
    for e in ENGINES.values():
        if e.id != "llamacpp":
            for vendor in ("NVIDIA", "Apple", "AMD"):
                assert e.kernel_overhead_for(vendor) == e.kernel_overhead_s


@pytest.mark.parametrize(
    ("gpu", "per_kernel"),
    [("h100-sxm", 1.3e-6), ("m2-max", 5.16e-6), ("mi300x", 6.25e-6)],
)
def test_llamacpp_decode_overhead_by_hand(tiny_config: dict, gpu: str, per_kernel: float):
    """2 layers x (15 + 9) kernels x the backend's cost; llama.cpp's per-token host cost is 0."""
    spec = spec_from_config(tiny_config, "tiny")
    engine = resolve_engine("llamacpp")
    assert engine.step_overhead_s == 0.0
    setup = make_setup(spec, resolve_scheme("bf16", spec), resolve_gpu(gpu), Layout(), engine)
    step = decode_step(setup, 1, 128)
    assert step.overhead_s == pytest.approx(2 * (15 + 9) * per_kernel)


def test_llamacpp_mmq_efficiency_by_hand():
    """PR 7676: RTX 4090, Llama-3-8B Q4_0, microbatch 512, 10358.75 tok/s of 2 x 6.98 G FLOPs."""
    from moeplan.perf.engines import LLAMA3_8B_MATMUL_PARAMS, LLAMACPP_MMQ_INT8_EFFICIENCY

    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336
    assert LLAMA3_8B_MATMUL_PARAMS == 32 * per_layer == 6_979_321_856
    fraction = LLAMACPP_MMQ_INT8_EFFICIENCY
    assert fraction == pytest.approx(10358.75 * 2 * 6_979_321_856 / 660.6e12, rel=1e-12)
    assert fraction == pytest.approx(0.2189, abs=1e-4)


def test_compute_efficiency_by_backend_and_dtype():
    llama = ENGINES["llamacpp"]
    r4090, gb10, m2 = resolve_gpu("rtx-4090"), resolve_gpu("gb10"), resolve_gpu("m2-max")
    r3090, mi300x = resolve_gpu("rtx-3090"), resolve_gpu("mi300x")
    assert r4090.has_peak("int8") and not gb10.has_peak("int8")
    assert llama.compute_efficiency_for(r4090, "int8") == pytest.approx(0.2189, abs=1e-4)
    assert llama.compute_efficiency_for(r4090, "bf16") == llama.compute_efficiency == 0.35
    # dense INT8 peaks: GA102 whitepaper 284 TOPS, AMD CDNA 3 white paper 2614.9 TOPS
    assert r3090.peak_flops("int8") == 284e12 and mi300x.peak_flops("int8") == 2614.9e12
    assert llama.compute_efficiency_for(r3090, "int8") == pytest.approx(0.2189, abs=1e-4)
    # HIP: no measured MMQ fraction, the generic one on the INT8 peak
    assert llama.compute_efficiency_for(mi300x, "int8") == 0.35
    # no INT8 peak in the catalog (GB10: NVIDIA publishes FP4 with sparsity only): the GEMM is
    # priced at the BF16 peak with the generic fraction
    assert llama.compute_efficiency_for(gb10, "int8") == 0.35
    assert llama.compute_efficiency_for(m2, "int8") == 0.35
    for e in ENGINES.values():
        if e.id != "llamacpp":
            assert e.compute_efficiency_for(r4090, "int8") == e.compute_efficiency


def test_sglang_flashinfer_trtllm_kernels_per_layer_by_hand():
    """Issue 14: SGLang's DeepSeek layer with trtllm_mla, the flashinfer_trtllm MoE runner and
    the all-reduce fused with residual add + RMSNorm (no add+norm kernel in any block)."""
    from moeplan.perf.kernel_counts import SGLANG_FI_MLA_KERNELS as fi

    # q_a+kv_a GEMM, q_a norm, kv_a norm, q_b GEMM, W_UK bmm, rope+fp8 quantize, KV write,
    # MLA decode, W_UV bmm, O (fp4 quantize + GEMM)
    assert fi.attention == 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 2 == 11
    assert fi.qk_norm == 0
    # router GEMM, fp4 quantize, routing main + cluster permute, FC1(+SwiGLU), FC2, finalize
    assert fi.moe_ffn == 1 + 1 + 2 + 1 + 1 + 1 == 7
    assert fi.shared_experts == 2 + 1 + 2 + 1 == 6  # gate_up, SiLU-mul, down, add
    assert fi.dense_ffn == 2 + 1 + 2 == 5
    engine = resolve_engine("sglang-fi")
    assert engine.kernels == fi
    sglang = resolve_engine("sglang")
    assert sglang.kernel_overhead_s == CUDA_GRAPH_KERNEL_S
    assert engine.kernel_overhead_s == SGLANG_FI_KERNEL_S == 2.1e-6  # B200 trace, not fitted
    assert engine.step_overhead_s == sglang.step_overhead_s == 0.0
    assert not engine.fitted_on


def test_deepseek_r1_sglang_fi_step_overhead_by_hand():
    """61 layers (3 dense, 58 MoE with one shared expert): 61 x 11 + 58 x (7 + 6) + 3 x 5 =
    1440 kernels (1135 on the generic count), x 2.1 us = 3.0 ms a decode step (9.0 ms at the
    sglang profile's 6.25 us)."""
    spec = load_model("deepseek-r1")
    assert (spec.num_layers, spec.num_moe_layers, spec.num_dense_layers) == (61, 58, 3)
    engine = resolve_engine("sglang-fi")
    assert kernels_per_step(spec, counts=engine.kernels) == 61 * 11 + 58 * 13 + 3 * 5 == 1440
    assert kernels_per_step(spec) == 61 * 7 + 58 * 12 + 3 * 4 == 1135
    setup = make_setup(spec, resolve_scheme("nvfp4", spec), resolve_gpu("b300"), Layout(), engine)
    step = decode_step(setup, 1, 1024)
    assert step.overhead_s == pytest.approx(1440 * 2.1e-6)


def test_sglang_fi_notes_a_model_without_mla():
    """The profile's count is DeepSeek MLA's: a GQA model gets a note, DeepSeek-R1 none."""
    from moeplan.perf.engines import resolve_engine
    from moeplan.perf.phases import decode_step
    from moeplan.perf.serving_search import Deployment, setup_for

    def notes(model: str) -> list[str]:
        spec = load_model(model)
        dep = Deployment(
            spec,
            resolve_scheme("nvfp4", spec),
            resolve_gpu("b200"),
            resolve_engine("sglang-fi"),
            "fp8",
        )
        step = decode_step(setup_for(dep, Layout(tp=8)), 1, 1000)
        return [n for n in step.notes if "DeepSeek MLA path" in n]

    assert len(notes("qwen3-30b-a3b")) == 1
    assert notes("deepseek-r1") == []


def test_sglang_fi_ep_without_attention_dp_moves_no_tokens():
    """SGLang without an all-to-all backend runs each EP rank's experts over the replicated batch
    and sums them in the TP all-reduce (moe_comm.REPLICATED_EP_SOURCE): DeepSeek-R1 at TP8 EP8
    pays the 2 x 61 all-reduces only; the generic sglang profile adds 2 x 58 all-to-alls."""
    from moeplan.perf.communication import communication_s
    from moeplan.perf.terms import allreduce_seconds

    spec = load_model("deepseek-r1")
    scheme = resolve_scheme("nvfp4", spec)
    gpu = resolve_gpu("b300")
    fi, generic = resolve_engine("sglang-fi"), resolve_engine("sglang")
    assert fi.replicated_ep and not generic.replicated_ep
    layout = Layout(tp=8, ep=8)
    fi_s = communication_s(make_setup(spec, scheme, gpu, layout, fi), 1, 1)
    bw = gpu.interconnect.per_direction_bytes_per_s
    one = allreduce_seconds(spec.hidden_size * 2, 8, bw, 5.7e-6, fi.collective_efficiency)
    assert fi_s == pytest.approx(2 * 61 * one)
    generic_s = communication_s(make_setup(spec, scheme, gpu, layout, generic), 1, 1)
    assert generic_s > fi_s + 2 * 58 * generic.collective_latency_s


# The source of SGLANG_FI_KERNEL_S: InferenceX issue 863's per-kernel table of one SGLang decode
# step of DeepSeek-R1 FP4 on B200 (TP4 EP4, concurrency 64): kernel -> (launches, mean us)
B200_TRACE = {
    "cvt_fp16_to_fp4": (183, 2.1),  # NVFP4 activation quantize, 0.39 ms in all
    "DeviceGemmFp4GemmSm100": (183, 8.4),  # NVFP4 dense GEMM
    "fmhaSm100 (MLA decode)": (61, 18.9),
    "bmm_E2m1 (MoE FC1)": (58, 82.4),
    "bmm_Bfloat16_E2m1 (MoE FC2)": (58, 49.0),
    "finalizeKernelVecLoad": (58, 7.3),
    "nvjet_tst_128x64 (W_UV bmm)": (61, 4.1),
}


def test_sglang_fi_counts_agree_with_the_b200_trace():
    """The trace's launches a step match SGLANG_FI_MLA_KERNELS' per-block tally: one NVFP4
    linear (quantize + GEMM) in attention (O) and two in the shared expert or the dense FFN, so
    3 x 61 = 183 of each; one MLA decode kernel a layer; FC1, FC2 and finalize once a MoE layer."""
    layers, moe_layers = 61, 58
    assert B200_TRACE["cvt_fp16_to_fp4"][0] == (1 + 2) * layers == 183
    assert B200_TRACE["DeviceGemmFp4GemmSm100"][0] == 183
    assert B200_TRACE["fmhaSm100 (MLA decode)"][0] == layers
    for kernel in ("bmm_E2m1 (MoE FC1)", "bmm_Bfloat16_E2m1 (MoE FC2)", "finalizeKernelVecLoad"):
        assert B200_TRACE[kernel][0] == moe_layers


def test_sglang_fi_kernel_floor_against_the_b200_trace():
    """SGLANG_FI_KERNEL_S is the quantize kernel's mean (183 launches, 0.39 ms), whose bytes take
    <= 0.2 us at B200's stream rate: 64 rows x 7168 BF16 read, FP4 + one FP8 scale per 16 written.
    Checked against the same table: the W_UV bmm (32 heads x 512 x 128 BF16 at TP4) priced as
    bytes + the floor is 2.7 us against 4.1 us measured, so the floor prices this path's small
    kernels fast (lower bound, not a fit)."""
    launches, mean_us = B200_TRACE["cvt_fp16_to_fp4"]
    assert launches * mean_us * 1e-3 == pytest.approx(0.39, abs=0.01)  # ms, the table's total
    assert pytest.approx(mean_us * 1e-6) == SGLANG_FI_KERNEL_S
    engine = resolve_engine("sglang-fi")
    stream = resolve_gpu("b200").mem_bw_bytes_per_s * engine.bw_efficiency
    quantize_bytes = 64 * 7168 * (2 + 0.5 + 1 / 16)
    assert quantize_bytes / stream < 0.2e-6
    w_uv = 128 // 4 * 512 * 128 * 2
    priced = w_uv / stream + SGLANG_FI_KERNEL_S
    assert priced == pytest.approx(2.7e-6, abs=0.1e-6)
    assert priced < B200_TRACE["nvjet_tst_128x64 (W_UV bmm)"][1] * 1e-6
