"""llama.cpp's kernel count and per-backend kernel cost (issue 17): expected values by hand."""

from __future__ import annotations

import json

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
from moeplan.perf.kernel_counts import SGLANG_FI_KERNEL_S, kernels_per_step
from moeplan.perf.latency import make_setup
from moeplan.perf.parallel import Layout
from moeplan.perf.phases import decode_step


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


def test_qwen3_next_gated_deltanet_layers_by_hand():
    """llama.cpp's Gated DeltaNet layer (31 kernels with the fused delta rule, 42 with the
    12-op autoregressive one) and Qwen3-Next's attention output gate (+3); the fused engines'
    count treats a DeltaNet layer as an attention layer, as before."""
    from moeplan.perf.kernel_counts import (
        LLAMACPP_GDN_AUTOREGRESSIVE_KERNELS,
        LLAMACPP_GDN_KERNELS,
    )

    # norm 1, qkv/z/beta-alpha projections 3 x 2, beta cont+sigmoid 2, alpha cont/add/softplus/
    # mul 4, two state gathers 2, concat 1, conv state write 1, ssm_conv + SiLU 2, l2_norm q, k 2,
    # q, k repeat 2, fused delta rule 1, state write 1, gated norm 3, output projection 2, add 1
    assert LLAMACPP_GDN_KERNELS == 1 + 6 + 2 + 4 + 2 + 1 + 1 + 2 + 2 + 2 + 1 + 1 + 3 + 2 + 1 == 31
    assert LLAMACPP_GDN_AUTOREGRESSIVE_KERNELS == 42
    spec = load_model("qwen3-next-80b-a3b")
    assert (spec.num_layers, spec.num_moe_layers, spec.attention.output_gate) == (48, 48, True)
    moe = 9 + 5 + 1  # routed, shared expert, its sigmoid gate
    assert kernels_per_step(spec, counts=LLAMACPP_KERNELS) == 12 * (15 + 3) + 36 * 31 + 48 * moe
    assert kernels_per_step(spec) == 48 * (7 + 2) + 48 * (9 + 3 + 1)  # the vLLM/SGLang count


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
    assert engine.kernel_overhead_s == SGLANG_FI_KERNEL_S == 4.3e-6  # B200 trace, not fitted
    assert engine.step_overhead_s == sglang.step_overhead_s == 0.0
    assert not engine.fitted_on


def test_deepseek_r1_sglang_fi_step_overhead_by_hand():
    """61 layers (3 dense, 58 MoE with one shared expert): 61 x 11 + 58 x (7 + 6) + 3 x 5 =
    1440 kernels (1135 on the generic count), x 4.3 us = 6.2 ms a decode step (9.0 ms at the
    sglang profile's 6.25 us)."""
    spec = load_model("deepseek-r1")
    assert (spec.num_layers, spec.num_moe_layers, spec.num_dense_layers) == (61, 58, 3)
    engine = resolve_engine("sglang-fi")
    assert kernels_per_step(spec, counts=engine.kernels) == 61 * 11 + 58 * 13 + 3 * 5 == 1440
    assert kernels_per_step(spec) == 61 * 7 + 58 * 12 + 3 * 4 == 1135
    setup = make_setup(spec, resolve_scheme("nvfp4", spec), resolve_gpu("b300"), Layout(), engine)
    step = decode_step(setup, 1, 1024)
    assert step.overhead_s == pytest.approx(1440 * 4.3e-6)


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
# step of DeepSeek-R1 FP4 on B200 (TP4 EP4, concurrency 64): kernel -> (launches a step, mean us).
# A published measurement, not one of the serving records validate scores.
B200_TRACE = {
    "bmm_E2m1 (MoE FC1)": (58, 82.4),  # 4.78 ms, "23.8%"
    "bmm_Bfloat16_E2m1 (MoE FC2)": (58, 49.0),  # 2.84 ms, "14.2%"
    "DeviceGemmFp4GemmSm100": (183, 8.4),  # NVFP4 linears: O, shared expert / dense FFN
    "nvjet_tst_64x32 splitK": (61, 8.9),
    "nvjet_tst_48x64": (61, 6.4),
    "finalizeKernelVecLoad": (58, 7.3),
    "nvjet_tst_128x64": (61, 4.1),
    "nvjet_tst_64x32 2x2 (58 a step)": (58, 5.2),  # router GEMM or shared expert: not used
    "fmhaSm100 (MLA decode)": (61, 18.9),
    "cvt_fp16_to_fp4": (183, 2.1),  # NVFP4 activation quantize, 0.39 ms in all
}
_ROWS, _TP = 64, 4  # decode rows a step (the MLA kernel's grid: [1, 2, 64]); tensor parallel
_NVFP4 = 0.5625  # bytes a value: 4 bits + an FP8 scale per 16
# DeepSeek-R1's NVFP4 linears a step at TP4, (count, K, N): O (32 heads x 128 in), the shared
# expert's gate_up and down (2048 x 2 / 4 and 2048 / 4 wide) on 58 layers, the dense FFN's on 3
_FP4_LINEARS = (
    (61, 4096, 7168),
    (58, 7168, 1024),
    (58, 512, 7168),
    (3, 7168, 9216),
    (3, 4608, 7168),
)


def _b200_stream() -> float:
    return resolve_gpu("b200").mem_bw_bytes_per_s * resolve_engine("sglang-fi").bw_efficiency


def _per_launch_bytes() -> dict[str, float]:
    """Bytes a launch moves at 64 rows and TP4, for the rows SGLANG_FI_KERNEL_S uses."""
    fp4 = sum(
        n * (k * out * _NVFP4 + _ROWS * k * _NVFP4 + _ROWS * out * 2) for n, k, out in _FP4_LINEARS
    )
    quantize = sum(n * _ROWS * k * (2 + _NVFP4) for n, k, _ in _FP4_LINEARS)
    hidden, heads = 7168, 128 // _TP
    qkv_a = 7168 * 2112 * 2 + _ROWS * (7168 + 2112) * 2  # BF16, replicated
    q_b = 1536 * 6144 * 2 + _ROWS * (1536 + 6144) * 2
    mla_bmm = heads * 512 * 128 * 2 + _ROWS * heads * (512 + 128) * 2
    return {
        "cvt_fp16_to_fp4": quantize / 183,
        "DeviceGemmFp4GemmSm100": fp4 / 183,
        "finalizeKernelVecLoad": _ROWS * 8 * hidden * 2 + _ROWS * hidden * 2,
        "nvjet (3 BF16 GEMMs a layer)": (qkv_a + q_b + mla_bmm) / 3,
    }


def _measured_us() -> dict[str, tuple[int, float]]:
    t = B200_TRACE
    bf16 = ("nvjet_tst_64x32 splitK", "nvjet_tst_48x64", "nvjet_tst_128x64")
    return {
        "cvt_fp16_to_fp4": t["cvt_fp16_to_fp4"],
        "DeviceGemmFp4GemmSm100": t["DeviceGemmFp4GemmSm100"],
        "finalizeKernelVecLoad": t["finalizeKernelVecLoad"],
        "nvjet (3 BF16 GEMMs a layer)": (3 * 61, sum(t[k][1] for k in bf16) / 3),
    }


def test_sglang_fi_counts_agree_with_the_b200_trace():
    """The trace's launches a step match SGLANG_FI_MLA_KERNELS' per-block tally: one NVFP4
    linear (quantize + GEMM) in attention (O) and two in the shared expert or the dense FFN, so
    3 x 61 = 183 of each; one MLA decode kernel a layer; FC1, FC2 and finalize once a MoE layer."""
    layers, moe_layers = 61, 58
    assert B200_TRACE["cvt_fp16_to_fp4"][0] == (1 + 2) * layers == 183
    assert B200_TRACE["DeviceGemmFp4GemmSm100"][0] == sum(n for n, _, _ in _FP4_LINEARS) == 183
    assert B200_TRACE["fmhaSm100 (MLA decode)"][0] == layers
    for kernel in ("bmm_E2m1 (MoE FC1)", "bmm_Bfloat16_E2m1 (MoE FC2)", "finalizeKernelVecLoad"):
        assert B200_TRACE[kernel][0] == moe_layers
    total_ms = 4.78 / 0.238  # the FC1 row's share of the step's kernel time
    assert total_ms == pytest.approx(2.84 / 0.142, rel=0.01)  # the FC2 row's agrees: ~20.1 ms
    listed_ms = sum(n * us for n, us in B200_TRACE.values()) / 1e3
    assert listed_ms == pytest.approx(12.6, abs=0.05)  # the other ~7.5 ms are not itemised


def test_sglang_fi_kernel_cost_from_the_b200_trace():
    """SGLANG_FI_KERNEL_S: each class's mean less its bytes at B200's stream rate, weighted by
    launches: quantize 2.0, NVFP4 GEMM 7.0, finalize 6.0, the BF16 attention GEMMs 3.5 us, so
    4.35 us over 607 launches (the 2.1 us it replaces was the quantize kernel's mean alone)."""
    stream = _b200_stream()
    beyond = {
        k: us - _per_launch_bytes()[k] / stream * 1e6 for k, (_, us) in _measured_us().items()
    }
    assert beyond == pytest.approx(
        {
            "cvt_fp16_to_fp4": 2.0,
            "DeviceGemmFp4GemmSm100": 7.0,
            "finalizeKernelVecLoad": 6.0,
            "nvjet (3 BF16 GEMMs a layer)": 3.5,
        },
        abs=0.06,
    )
    launches = {k: n for k, (n, _) in _measured_us().items()}
    assert sum(launches.values()) == 607
    mean = sum(launches[k] * beyond[k] for k in beyond) / 607
    assert mean == pytest.approx(4.35, abs=0.01)
    assert pytest.approx(mean * 1e-6, abs=0.06e-6) == SGLANG_FI_KERNEL_S


def test_sglang_fi_op_prices_against_the_b200_trace():
    """moeplan's price of each row (bytes at the stream rate + SGLANG_FI_KERNEL_S) against the
    measured mean. The four classes the cost is read from: each within 2.1x, all 607 launches
    together within 1%. The MLA decode kernel is priced short (its KV bytes at the mean context
    of a 1k/1k run + the cost: 13 us against 18.9). The routed experts are priced long: the
    busiest EP rank's uniform-routing experts (58 of 64) take 221 us a layer at the stream rate
    against FC1 + FC2's 131 us; uniform routing (55.6 experts a rank on average) could not be
    read in 131 us even at B200's full 7.7 TB/s, so the ranks touched fewer experts than uniform
    routing gives (not changed here: terms.busiest_rank_experts is every engine's)."""
    from moeplan.perf.terms import (
        expected_experts_touched,
        expert_bytes_per_gpu,
        kv_read_bytes_per_gpu,
    )

    stream, cost = _b200_stream(), SGLANG_FI_KERNEL_S
    priced_total = measured_total = 0.0
    for k, (n, us) in _measured_us().items():
        priced = _per_launch_bytes()[k] / stream + cost
        assert 1 / 2.1 < priced / (us * 1e-6) < 2.1, k
        priced_total += n * priced
        measured_total += n * us * 1e-6
    assert priced_total == pytest.approx(measured_total, rel=0.01)
    spec = load_model("deepseek-r1")
    layout = Layout(tp=_TP, ep=4)
    engine = resolve_engine("sglang-fi")
    setup = make_setup(
        spec, resolve_scheme("nvfp4", spec), resolve_gpu("b200"), layout, engine, kv_quant="fp8"
    )
    kv = kv_read_bytes_per_gpu(spec, layout, _ROWS, 1024 + 512, "fp8") / 61
    mla = kv / stream + cost
    assert mla == pytest.approx(13.0e-6, abs=0.2e-6)
    assert mla < B200_TRACE["fmhaSm100 (MLA decode)"][1] * 1e-6
    measured_moe = (
        B200_TRACE["bmm_E2m1 (MoE FC1)"][1] + B200_TRACE["bmm_Bfloat16_E2m1 (MoE FC2)"][1]
    ) * 1e-6
    priced_moe = expert_bytes_per_gpu(setup.split, spec, layout, _ROWS) / 58 / stream
    assert priced_moe == pytest.approx(221e-6, rel=0.01)
    assert priced_moe > 1.6 * measured_moe
    uniform_mean = expected_experts_touched(256, 8, _ROWS) / 4 * setup.split.expert_bytes
    assert uniform_mean / resolve_gpu("b200").mem_bw_bytes_per_s > measured_moe


def test_sglang_fi_step_against_the_b200_trace():
    """The table's shares put the step's kernel time at ~20.1 ms (FC1: 4.78 ms, 23.8%); moeplan's
    decode step at its point (batch 64, context 1024 + 512) is 21.3 ms: 6.2 ms of kernel cost,
    12.9 ms of routed-expert reads (over the trace's 7.6 ms, above) and the rest."""
    spec = load_model("deepseek-r1")
    engine = resolve_engine("sglang-fi")
    setup = make_setup(
        spec,
        resolve_scheme("nvfp4", spec),
        resolve_gpu("b200"),
        Layout(tp=_TP, ep=4),
        engine,
        kv_quant="fp8",
    )
    step = decode_step(setup, _ROWS, 1024 + 512)
    assert step.total_s == pytest.approx(21.3e-3, abs=0.1e-3)
    assert step.total_s == pytest.approx(4.78e-3 / 0.238, rel=0.07)


def test_record_gdn_decode_picks_the_build_s_delta_rule():
    from moeplan.errors import MoeplanError
    from moeplan.perf.offload_engines import OFFLOAD_ENGINES
    from moeplan.plan.validate_offload import with_gdn_decode

    llama = OFFLOAD_ENGINES["llamacpp"]
    assert llama.gpu_engine.kernels.linear_attention == 31
    assert with_gdn_decode(llama, "autoregressive").gpu_engine.kernels.linear_attention == 42
    assert with_gdn_decode(llama, "fused") == llama
    with pytest.raises(MoeplanError, match="gdn_decode"):
        with_gdn_decode(llama, "chunked")
    with pytest.raises(MoeplanError, match="gdn_decode"):
        with_gdn_decode(OFFLOAD_ENGINES["ktransformers"], "autoregressive")


def test_gated_deltanet_on_llamacpp_says_what_it_leaves_out():
    from moeplan.perf.kernel_counts import FUSED_MOE_KERNELS, linear_attention_note

    next80 = load_model("qwen3-next-80b-a3b")
    note = linear_attention_note(next80, LLAMACPP_KERNELS)
    assert note is not None and "issue 19345" in note
    assert linear_attention_note(next80, FUSED_MOE_KERNELS) is None  # vLLM/SGLang counts
    assert linear_attention_note(load_model("gpt-oss-120b"), LLAMACPP_KERNELS) is None
    from typer.testing import CliRunner

    from moeplan.cli import app

    cmd = ["latency", "qwen3-next-80b-a3b", "--gpu", "rtx-pro-6000", "--quant", "q8_0"]
    out = CliRunner().invoke(app, [*cmd, "--engine", "llamacpp", "--json"])
    assert out.exit_code == 0, out.output
    assert any("issue 19345" in n for n in json.loads(out.stdout)["notes"])
