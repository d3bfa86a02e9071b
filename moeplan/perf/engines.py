"""Serving-engine profiles: the few physical parameters that separate a roofline from what an
engine achieves. One profile per engine (and engine generation), never per model. Every profile
carries `source` (where each constant comes from) and, where a constant had to be fitted, its
name in `fitted` and the records it was fitted on in `fitted_on` (moeplan/data/measurements.yaml;
`moeplan validate` marks them used_for_fitting and leaves each out in turn).

The fields of a profile are explained in engine_profile.py.
"""

from __future__ import annotations

from dataclasses import replace

from moeplan.errors import UnknownNameError
from moeplan.perf.collectives import NCCL_LATENCY_S
from moeplan.perf.engine_profile import FLASHMLA_DECODE_GPUS as FLASHMLA_DECODE_GPUS
from moeplan.perf.engine_profile import EngineProfile as EngineProfile
from moeplan.perf.kernel_counts import LLAMACPP_KERNELS as LLAMACPP_KERNELS
from moeplan.perf.kernel_counts import (
    SGLANG_FI_KERNEL_S,
    SGLANG_FI_MLA_KERNELS,
)
from moeplan.perf.llamacpp_rates import (
    LLAMA3_8B_MATMUL_PARAMS as LLAMA3_8B_MATMUL_PARAMS,
)
from moeplan.perf.llamacpp_rates import (
    LLAMACPP_CUDA_KERNEL_S,
    LLAMACPP_METAL_KERNEL_S,
    LLAMACPP_MMQ_INT8_EFFICIENCY,
)
from moeplan.perf.moe_comm import REPLICATED_EP_SOURCE
from moeplan.perf.rocm_rates import (
    ROCM_DECODE_SOURCE,
    ROCM_FP8_DENSE_DECODE_BW,
    ROCM_GEMM_EFFICIENCY,
    ROCM_RATES_SOURCE,
    ROCM_STREAM_BW_FRACTION,
)
from moeplan.perf.trtllm09 import TRTLLM_09_MOE_SOURCE as TRTLLM_09_MOE_SOURCE
from moeplan.perf.trtllm_fmha import TRTLLM_CONTEXT_FMHA
from moeplan.perf.trtllm_gemm import TRTLLM_GEMM_EFFICIENCY
from moeplan.perf.trtllm_moe import TRTLLM_NVFP4_MOE
from moeplan.perf.vllm_v0 import v0_step_overhead_s as v0_step_overhead_s

# Fixed GPU cost of one kernel inside a CUDA graph on a data-center GPU. No published figure
# covers the whole of it: Hazy Research ("Look Ma, No Bubbles", 2025-05-27,
# hazyresearch.stanford.edu/blog/2025-05-27-no-bubbles; the 1.3 us figure read here through the
# mlops.substack.com summary of it) measure about 1.3 us of launch gap per kernel even with CUDA
# graphs on an H100 and find vLLM and SGLang at no more than 50% of HBM bandwidth on
# Llama-3.2-1B batch-1 decode, the rest being kernel set-up/teardown; the ramp-up and tail add
# to the launch gap. So the value is fitted (least median |error| on a 0.25 us grid), on the
# two SGLang records whose host overhead is known to be ~0 (overlap scheduler), and shared by
# the CUDA-graph engines: the kernels are the same Triton/CUTLASS fused-MoE kernels.
CUDA_GRAPH_KERNEL_S = 6.25e-6
CUDA_GRAPH_KERNEL_FITTED_ON = (
    "qwen3-30b-a3b_h20_sglang_bf16_in1",
    "qwen3-235b-a22b_8xh20_sglang_bf16_in1",
)
_KERNEL_SOURCE = (
    "kernel_overhead_s: fitted on SGLang's two records (sglang profile), launch gap >= 1.3 us "
    "per graph kernel on H100 (Hazy Research, 2025-05-27) plus ramp-up/tail"
)
_EFFICIENCY_SOURCE = (
    "bw_efficiency 0.85 (HBM copy kernels 85-92% of spec), compute_efficiency 0.6: named "
    "assumptions, not fitted; collective_latency_s 20 us: NCCL's small all-reduce measured in a "
    "CUDA graph (NCCL_LATENCY_S)"
)
_ALLREDUCE_SOURCE = (
    "; TP all-reduce over NVLink: the one-shot custom all-reduce measured on H100, 3.9 / 3.7 / "
    "5.7 us on 2 / 4 / 8 GPUs (ONE_SHOT_ALLREDUCE_S, SGLang PR 2904)"
)


_TRTLLM = EngineProfile(
    "trtllm",
    "TensorRT-LLM PyTorch backend (CUDA graphs, overlap scheduler on by default)",
    bw_efficiency=0.88,
    compute_efficiency=0.7,
    kernel_overhead_s=CUDA_GRAPH_KERNEL_S,
    step_overhead_s=0.0,
    collective_latency_s=NCCL_LATENCY_S,
    custom_allreduce=True,
    compute_efficiency_by_gpu=TRTLLM_GEMM_EFFICIENCY,
    context_fmha_by_gpu=TRTLLM_CONTEXT_FMHA,
    fused_moe_by_gpu=TRTLLM_NVFP4_MOE,
    source=(
        "step_overhead_s 0: the PyTorch backend's overlap scheduler launches step n+1 "
        "before the CPU work of step n (TensorRT-LLM docs, features/overlap-scheduler, "
        f"enabled by default); {_KERNEL_SOURCE}; bw 0.88, compute 0.7: named assumptions "
        "(fused kernels), no batch-stated record to check them; on B200/GB200/H200/H100/RTX "
        "PRO 6000 FP8/NVFP4 GEMMs and prompt attention as measured in aiconfigurator's kernel "
        "database (perf/trtllm_gemm.py, perf/trtllm_fmha.py), B200/GB200 NVFP4 experts with a "
        "measured cost a row (perf/trtllm_moe.py); collective_latency_s 20 us "
        "(NCCL_LATENCY_S; an unsourced 10 us before)"
        + _ALLREDUCE_SOURCE
        + " (the AUTO strategy's ONESHOT)"
    ),
)
"""The TensorRT-LLM profile; trtllm-0.9 is this one with its FP8 experts run out of the box."""


_SGLANG = EngineProfile(
    "sglang",
    "SGLang 0.4+ with CUDA graphs, the Triton fused-MoE kernel and the overlap "
    "(zero-overhead) scheduler",
    bw_efficiency=0.85,
    compute_efficiency=0.6,
    kernel_overhead_s=CUDA_GRAPH_KERNEL_S,
    step_overhead_s=0.0,
    collective_latency_s=NCCL_LATENCY_S,
    custom_allreduce=True,
    overlapped_mla_decode=True,
    separate_prefill=True,
    compute_efficiency_by_gpu=ROCM_GEMM_EFFICIENCY,
    bw_efficiency_by_gpu=ROCM_STREAM_BW_FRACTION,
    decode_dense_bw_by_gpu=ROCM_FP8_DENSE_DECODE_BW,
    source=(
        "separate_prefill: a waiting prompt runs as a prefill batch of its own before the next "
        "decode batch ('Run prefill first if possible'), the decode batch joining it only with "
        "--enable-mixed-chunk (sgl-project/sglang@0003215c python/sglang/srt/managers/"
        "scheduler.py get_next_batch_to_run, _get_new_batch_prefill_raw: is_mixed_chunk); "
        "step_overhead_s 0: since v0.4 the scheduler runs one batch ahead and its CPU "
        "work overlaps the GPU; Nsight shows no GPU idle time between decode batches "
        "(LMSYS SGLang v0.4 blog, 2024-12-04, 'zero-overhead batch scheduler'; a minor "
        "gap remained with the FlashInfer attention backend); "
        "kernel_overhead_s: fitted (least median |error|, 0.25 us grid) on the records "
        "in fitted_on, the Qwen speed benchmark run with SGLang 0.4.6.post1; "
        + _EFFICIENCY_SOURCE
        + _ALLREDUCE_SOURCE
        + "; "
        + ROCM_RATES_SOURCE
        + ROCM_DECODE_SOURCE
    ),
    fitted="kernel_overhead_s",
    fitted_on=CUDA_GRAPH_KERNEL_FITTED_ON,
)

_SGLANG_FI = replace(
    _SGLANG,
    id="sglang-fi",
    description="SGLang with the FlashInfer TRT-LLM MoE runner, TRT-LLM MLA attention and "
    "all-reduce fusion (Blackwell; --moe-runner-backend flashinfer_trtllm --attention-backend "
    "trtllm_mla --enable-flashinfer-allreduce-fusion, DeepSeek MLA models)",
    kernels=SGLANG_FI_MLA_KERNELS,
    kernel_overhead_s=SGLANG_FI_KERNEL_S,
    replicated_ep=True,
    source=(
        "kernels per layer counted from SGLang's and FlashInfer's source for this configuration "
        "(SGLANG_FI_MLA_KERNELS: 11 attention, 7 routed MoE, 6 shared expert, 5 dense FFN; "
        f"add+norm fused into the all-reduce); EP without attention DP: {REPLICATED_EP_SOURCE}; "
        f"kernel_overhead_s {SGLANG_FI_KERNEL_S * 1e6:g} us: a published B200 decode-step "
        "trace's per-kernel table (InferenceX issue 863), each kernel class's mean duration less "
        "its bytes' time, weighted by launches (NVFP4 quantize 2.0, NVFP4 GEMM 7.0, MoE finalize "
        "6.0, BF16 attention GEMMs 3.5 us); no launch gap added (PDL overlaps it, pegainfer issue "
        "569); not fitted (SGLANG_FI_KERNEL_S); the rest as the sglang profile: " + _SGLANG.source
    ),
    fitted="",
    fitted_on=(),
)
"""The sglang profile with the kernel count of its FlashInfer/TRT-LLM Blackwell path (issue 14:
prompted by the InferenceX DeepSeek-R1 FP4 B200/B300 records, none of which set anything)."""


ENGINES: dict[str, EngineProfile] = {
    e.id: e
    for e in (
        EngineProfile(
            "ideal",
            "pure roofline: spec peaks, no kernel or host overhead",
            bw_efficiency=1.0,
            compute_efficiency=1.0,
            kernel_overhead_s=0.0,
            step_overhead_s=0.0,
            collective_latency_s=0.0,
            collective_efficiency=1.0,
            source="definition: spec peaks and no overheads",
        ),
        EngineProfile(
            "vllm",
            "vLLM V1 (0.8+, the default engine since 2025) with CUDA graphs and the "
            "Triton/CUTLASS fused-MoE kernels",
            bw_efficiency=0.85,
            compute_efficiency=0.6,
            kernel_overhead_s=CUDA_GRAPH_KERNEL_S,
            step_overhead_s=0.5e-3,
            collective_latency_s=NCCL_LATENCY_S,
            custom_allreduce=True,
            overlapped_mla_decode=True,
            compute_efficiency_by_gpu=ROCM_GEMM_EFFICIENCY,
            bw_efficiency_by_gpu=ROCM_STREAM_BW_FRACTION,
            decode_dense_bw_by_gpu=ROCM_FP8_DENSE_DECODE_BW,
            source=(
                f"{_KERNEL_SOURCE}; step_overhead_s 0.5 ms: V1's core loop schedules, prepares "
                "inputs and samples between GPU steps (RFC vllm#23233, 2025-08-20); removing "
                "input preparation and sampling from that path was expected to gain 5-10% "
                "(vllm#23569), i.e. 0.25-0.5 ms of a ~5 ms Llama-8B H100 step (V1 blog); the "
                "upper end is taken; no record checks it; "
                + _EFFICIENCY_SOURCE
                + _ALLREDUCE_SOURCE
                + "; "
                + ROCM_RATES_SOURCE
                + ROCM_DECODE_SOURCE
            ),
        ),
        EngineProfile(
            "vllm-v0",
            "vLLM V0 engine before v0.6.0 (2023-2024): same kernels, CUDA graphs for decode "
            "by default since vllm#1926 (2023-12, enforce_eager=False), and "
            "scheduling, input preparation and output processing run synchronously between "
            "GPU steps",
            bw_efficiency=0.85,
            compute_efficiency=0.6,
            kernel_overhead_s=CUDA_GRAPH_KERNEL_S,
            step_overhead_s=v0_step_overhead_s(),
            collective_latency_s=NCCL_LATENCY_S,
            custom_allreduce=True,
            compute_efficiency_by_gpu=ROCM_GEMM_EFFICIENCY,
            bw_efficiency_by_gpu=ROCM_STREAM_BW_FRACTION,
            source=(
                f"{_KERNEL_SOURCE}; step_overhead_s 3.8 ms from the vLLM v0.6.0 blog's "
                "profile of the V0 loop (v0_step_overhead_s); "
                + _EFFICIENCY_SOURCE
                + _ALLREDUCE_SOURCE
                + "; "
                + ROCM_RATES_SOURCE
            ),
        ),
        _SGLANG,
        _SGLANG_FI,
        _TRTLLM,
        replace(
            _TRTLLM,
            id="trtllm-0.9",
            description="TensorRT-LLM 0.9 (2024-04): TensorRT engines run by GptSession, the "
            "MixtureOfExperts plugin for FP16/BF16 and weight-only INT8/INT4 experts",
            source=(
                f"ootb_moe_compute fp8/fp4: {TRTLLM_09_MOE_SOURCE}; bw 0.88, compute 0.7, step 0 "
                f"and {_KERNEL_SOURCE}: as the trtllm profile, named assumptions for the TensorRT "
                "backend (no source for its host cost per step); collective_latency_s 20 us "
                "(NCCL_LATENCY_S)" + _ALLREDUCE_SOURCE + " (v0.9.0's PluginConfig: "
                "use_custom_all_reduce on by default)"
            ),
            ootb_moe_compute=("fp8", "fp4"),
            compute_efficiency_by_gpu=(),  # measured for 1.3.0rc20's kernels, not 0.9's
            context_fmha_by_gpu=(),
            fused_moe_by_gpu=(),
        ),
        EngineProfile(
            "llamacpp",
            "llama.cpp (GGUF, CUDA/Metal/HIP backends, layer split across GPUs)",
            bw_efficiency=0.85,
            compute_efficiency=0.35,
            kernel_overhead_s=CUDA_GRAPH_KERNEL_S,
            step_overhead_s=0.0,
            collective_latency_s=NCCL_LATENCY_S,
            source=(
                "kernels per layer counted from llama.cpp's fused CUDA decode graph "
                "(LLAMACPP_KERNELS: 15 attention, 9 routed MoE); kernel_overhead_s by backend: "
                "CUDA 1.3 us (one CUDA graph per token since llama.cpp PR 6766; the launch gap "
                "between graph kernels, Hazy Research 2025-05-27), Metal 5.16 us (GPU time per "
                "extra dispatch measured as a slope, ferrox issue 149), HIP (graphs off by "
                "default, GGML_HIP_GRAPHS) the shared "
                f"{CUDA_GRAPH_KERNEL_S * 1e6:g} us, an assumption; "
                "compute_efficiency on CUDA for int8 (MMQ) GEMMs 0.219 of the INT8 peak (llama.cpp "
                "PR 7676, RTX 4090 Llama-3-8B Q4_0 pp512), where the catalog has that peak, "
                "else 0.35 (an assumption); "
                "step_overhead_s (per token: ggml graph build, CUDA-graph update or Metal "
                "encoding, not overlapped with the GPU): no published figure, fitted (least "
                "median |error|, 0.25 ms grid) on the records in fitted_on; "
                + _EFFICIENCY_SOURCE
                + "; MI300X HBM at 0.783 of spec (Azure AI-benchmarking-guide BabelStream, "
                "ROCM_STREAM_BW_FRACTION, perf/rocm_rates.py)"
            ),
            fitted="step_overhead_s",
            fitted_on=("gpt-oss-20b_gb10_llamacpp_tg32", "mixtral-8x7b_m2max_llamacpp_q4km_tg128"),
            kernels=LLAMACPP_KERNELS,
            vec_fa_quantized_kv=True,
            compute_efficiency_by=(("nvidia", "int8", LLAMACPP_MMQ_INT8_EFFICIENCY),),
            kernel_overhead_by_vendor=(
                ("nvidia", LLAMACPP_CUDA_KERNEL_S),
                ("apple", LLAMACPP_METAL_KERNEL_S),
            ),
            bw_efficiency_by_gpu=ROCM_STREAM_BW_FRACTION,
        ),
    )
}

DEFAULT_ENGINE = "vllm"


def resolve_engine(name: str) -> EngineProfile:
    key = name.strip().lower()
    aliases = {
        "tensorrt-llm": "trtllm",
        "trtllm-0.9.0": "trtllm-0.9",
        "trt-llm": "trtllm",
        "llama.cpp": "llamacpp",
        "llama-cpp": "llamacpp",
        "roofline": "ideal",
    }
    key = aliases.get(key, key)
    if key not in ENGINES:
        raise UnknownNameError("engine", name, list(ENGINES))
    return ENGINES[key]
