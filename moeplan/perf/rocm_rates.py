"""Measured GEMM and HBM rates of AMD's CDNA3 GPUs (MI300X, MI325X, gfx942) under ROCm, as
fractions of the catalog's spec (gpus.yaml), for the engines that run there (vLLM and SGLang
ROCm builds: hipBLASLt / AITER GEMMs; llama.cpp's HIP backend for the bandwidth). Issue 14:
prompted by the held-out AMD serving records, every one over-predicted (InferenceX SGLang
DeepSeek-R1 8 x MI325X, Qwen3.5-397B 8 x MI300X, vLLM gpt-oss / MiniMax / Kimi); no value here
was taken from them, and they were not used to choose between sources.

GEMM (ROCM_GEMM_EFFICIENCY). MI325X: AMD's Typical Attained FLOPs, "Completing the GPU
Performance Picture: Understanding TAF Alongside Peak FLOPs and MAF" (ROCm blogs, 2026-10-06,
github:ROCm/rocm-blogs blogs/artificial-intelligence/taf-blog/README.md): the FLOP-weighted
harmonic mean over ten DeepSeek-V3 GEMM shapes (five N x K pairs at M = 32 and M = 32768,
mblas-bench, normal-distribution inputs, 30 s a shape, one MI325X at 1000 W): BF16 616 TFLOPS,
unscaled FP8 1143. The M = 32 shapes hold ~1% of that time (a few us each against ~4 ms of the
large ones), so this is the rate of serving-sized prompt GEMMs, the quantity the trtllm profile
reads from aiconfigurator for NVIDIA GPUs (trtllm_gemm.py). MI300X has no published TAF; its
Max-Achievable FLOPs, "Measuring Max-Achievable FLOPs - Part 2" (ROCm blogs, 2025-02-28, same
repository, software-tools-optimization/measuring-max-achievable-flops-part2/README.md: hipBLASLt
at db8e93b, trig_float inputs, best of a size sweep), are BF16 708 / FP8 1273 TFLOPS against the
MI325X's 843 / 1519 in the same table; the MI300X figure is its MAF times the MI325X's
TAF / MAF(same table) ratio (0.731 BF16, 0.752 FP8): one gfx942 die, one library, the shape and
input-pattern losses taken to carry over (an assumption, stated). Checked against an independent
measurement (tests/test_rocm_rates.py): Microsoft Azure's AI-benchmarking-guide, ND MI300X v5
(Azure_Results/ND_MI300X_v5_results.md, read at github:samuel-bohman/AI-benchmarking-guide@
3de0c294, a copy of Azure/AI-benchmarking-guide): hipBLASLt FP8, random inputs, 4096^3..32768^3:
955 / 1159 / 1015 / 1029 TFLOPS, 0.37-0.44 of the FP8 peak; the same guide's H200 cuBLASLt FP8
runs 1249-1366 (0.63-0.69 of its peak).

These rates also price the attention core on these GPUs (`rates.flops("bf16")`). Azure's FA2
row (head 64, seq 8192) is 328.6 TFLOPS on the MI300X, 0.25 of its BF16 peak, below even the
GEMM fraction, so the attention core stays optimistic there; not modelled further.

HBM (ROCM_STREAM_BW_FRACTION): the same Azure guide measured the MI300X's HBM with BabelStream:
copy 4.11, mul 4.26, add 4.14, triad 4.09 TB/s, a mean 4.15 of the 5.3 TB/s spec: 0.783. Its
H200 page (ND_H200_v5_results.md) gives 4.01 / 4.00 / 4.15 / 4.15 TB/s of 4.8: 0.849, the 0.85
that the vllm, sglang and llamacpp profiles assume for a long weight stream, so the MI300X value
replaces that assumption for the same kind of kernel. The MI325X (HBM3E, 6.0 TB/s) has no such
measurement found and keeps the profile's 0.85.

Decode GEMMs (ROCM_FP8_DENSE_DECODE_BW). At decode sizes SGLang ROCm runs FP8 block-scaled (128
x 128) dense layers through AITER's A8W8 block-scale GEMM, which on gfx942 reaches a small
fraction of the HBM rate. Source: SemiAnalysisAI/InferenceX issue 863 ("Profile test",
Klaud-Cold, 2026-03-05), a per-kernel table of one decode step of DeepSeek-R1-0528 FP8 on 8 x
MI325X, SGLang lmsysorg/sglang:v0.5.9-rocm700-mi30x (InferenceX@f65d6b4b amd-master.yaml
dsr1-fp8-mi325x-sglang), TP8 EP1, 1k/1k, 64 requests (the Perfetto trace profiles/f65d6b4b.../
mi325x/sglang/dsr1_1k1k_fp8_tp8_ep1_conc64 of InferenceX-trace-storage; its blob is not stored
here, so the rows were not re-read). Its AITER block-scale rows, launches a step x mean at M =
64, weight bytes a launch (FP8, model shapes): q_a_proj 61 x 123 us, 11.0 MB; kv_a_proj 61 x 30
us, 4.1 MB; o_proj 61 x 34 us, 14.7 MB; dense-FFN gate_up 3 x 122 us, 33.0 MB and down 3 x 39
us, 16.5 MB. Priced as moeplan prices any kernel, its bytes at a rate plus the engine's cost a
kernel (6.25 us, CUDA_GRAPH_KERNEL_S), the class's rate is its bytes over its time less that
cost: 1968 MB / (11.89 - 189 x 0.00625) ms = 0.184 TB/s, 3% of the MI325X's 6.0 TB/s (0.09-0.43
TB/s by row: the kernel is not bandwidth-bound there). The MI300X has the same die (304 CUs,
2100 MHz) and library, so the same rate (an assumption, stated). Used for decode steps only
(prompt GEMMs keep the TAF rates above), for FP8 block-scaled dense weights (fp8-block) in the
sglang profile (the table's engine) and the vllm profile, which on gfx942 runs the same AITER CK
kernel (see VLLM_BLOCKSCALE_PATH; vllm-v0 is not). Limits:
an AI agent's summary of a trace ("~" means; its shape column is partly wrong, e.g. o_proj as 64
x 896 x 512, so the model's shapes give the bytes); one step at M = 64 only (the same rate is
assumed at other batch sizes, which the table cannot check); SGLang v0.5.9, while the serving
records run v0.5.12 (Qwen3.5) and v0.5.19 (DeepSeek-R1), and AITER's gfx942 block-scale configs
kept changing (e.g. ROCm/aiter PR 2613, Qwen3.5 shapes on MI300X, with an untuned / tuned
serving A/B). Rows not turned into rates (tests/test_rocm_trace.py compares each with moeplan's
price): the smallest hipBLASLt BF16 GEMMs (~5.5 us, 0.74-0.83x of moeplan's price); MLA decode +
reduce, 66.5 us a layer, ~2.8x the price at the 1k/1k midpoint context (the table gives no
context, so no rate); the fused MoE, 160 us a layer, below what its weights need at the HBM spec
under uniform routing (moeplan prices 246 us): left as priced; no all-reduce row is in the
readable part of the table.
"""

from __future__ import annotations

MI325X_TAF_FLOPS = {"bf16": 616e12, "fp8": 1143e12}
"""AMD TAF blog (2026-10-06), Table 1: one MI325X, DeepSeek-V3 shapes, normal inputs."""

MAF_2025_FLOPS = {
    "mi300x": {"bf16": 708e12, "fp8": 1273e12},
    "mi325x": {"bf16": 843e12, "fp8": 1519e12},
}
"""AMD MAF Part 2 blog (2025-02-28), Table 1: hipBLASLt-bench, trig_float inputs."""

SPEC_FLOPS = {"bf16": 1307.4e12, "fp8": 2614.9e12}
"""Dense peaks of both GPUs in gpus.yaml (CDNA 3 white paper; MI325X the same 304 CUs)."""

AZURE_MI300X_FP8_GEMM_FLOPS = (955.17e12, 1159.23e12, 1015.1e12, 1029.14e12)
"""Azure AI-benchmarking-guide ND MI300X v5, hipBLASLt FP8, m = n = k = 4096..32768 (a check)."""

AZURE_STREAM_TBPS = {
    "mi300x": (4.11, 4.26, 4.14, 4.09),  # copy, mul, add, triad; spec 5.3 TB/s
    "h200": (4.01, 4.00, 4.15, 4.15),  # the same harness on H200; spec 4.8 TB/s
}
"""Azure AI-benchmarking-guide BabelStream rows (dot, a reduction, left out)."""


def _taf(gpu: str, dtype: str) -> float:
    """Typical attained GEMM FLOPs: measured on the MI325X; MI300X's MAF scaled by the MI325X's
    TAF / MAF ratio."""
    if gpu == "mi325x":
        return MI325X_TAF_FLOPS[dtype]
    ratio = MI325X_TAF_FLOPS[dtype] / MAF_2025_FLOPS["mi325x"][dtype]
    return MAF_2025_FLOPS[gpu][dtype] * ratio


def stream_fraction(gpu: str, spec_tbps: float) -> float:
    """Mean of the Azure BabelStream copy/mul/add/triad rates over the spec bandwidth."""
    rows = AZURE_STREAM_TBPS[gpu]
    return sum(rows) / len(rows) / spec_tbps


ROCM_GEMM_EFFICIENCY: tuple[tuple[str, str, float], ...] = tuple(
    (gpu, dtype, round(_taf(gpu, dtype) / SPEC_FLOPS[dtype], 3))
    for gpu in ("mi300x", "mi325x")
    for dtype in ("bf16", "fp8")
)
"""(GPU id, math datatype, fraction of its dense peak): MI300X BF16 0.396, FP8 0.366; MI325X
BF16 0.471, FP8 0.437 (module docstring)."""

ROCM_STREAM_BW_FRACTION: tuple[tuple[str, float], ...] = (
    ("mi300x", round(stream_fraction("mi300x", 5.3), 3)),
)
"""(GPU id, fraction of spec HBM bandwidth a streaming kernel reaches): MI300X 0.783."""

AITER_BLOCKSCALE_DECODE_ROWS: tuple[tuple[str, int, float, float], ...] = (
    ("q_a_proj", 61, 123e-6, 1536 * 7168),
    ("kv_a_proj", 61, 30e-6, 576 * 7168),
    ("o_proj", 61, 34e-6, 2048 * 7168),
    ("dense FFN gate_up", 3, 122e-6, 2 * 18432 // 8 * 7168),
    ("dense FFN down", 3, 39e-6, 18432 // 8 * 7168),
)
"""InferenceX issue 863, MI325X table: (row, launches a step, mean seconds, FP8 weight bytes a
launch at TP8; the q_a / kv_a projections are replicated, not split over TP)."""

TRACE_KERNEL_S = 6.25e-6
"""The sglang profile's cost a kernel (engines.CUDA_GRAPH_KERNEL_S), taken off each row."""


def class_decode_bw(
    rows: tuple[tuple[str, int, float, float], ...], kernel_s: float = TRACE_KERNEL_S
) -> float:
    """A kernel class's achieved rate: its bytes a step over its time a step less the per-kernel
    cost moeplan adds to every kernel, so bytes / rate + that cost gives the rows' time."""
    bytes_ = sum(n * b for _, n, _, b in rows)
    seconds = sum(n * (t - kernel_s) for _, n, t, _ in rows)
    return bytes_ / seconds


ROCM_FP8_DENSE_DECODE_BW: tuple[tuple[str, float], ...] = tuple(
    (gpu, round(class_decode_bw(AITER_BLOCKSCALE_DECODE_ROWS), -9)) for gpu in ("mi300x", "mi325x")
)
"""(GPU id, bytes/s): AITER's FP8 block-scale GEMM at decode sizes on gfx942, 0.184 TB/s."""


def decode_dense_bw(
    table: tuple[tuple[str, float], ...], gpu_id: str, dense_format: str
) -> float | None:
    """The engine's measured decode rate for FP8 block-scaled (fp8-block) dense weights on this
    GPU, else None: per-tensor FP8 runs another GEMM (hipBLASLt), not measured here."""
    if dense_format != "fp8-block":
        return None
    return dict(table).get(gpu_id)


ROCM_RATES_SOURCE = (
    "on MI300X/MI325X: prompt GEMMs at AMD's Typical Attained FLOPs (ROCm blogs TAF, 2026-10-06, "
    "MI325X BF16 616 / FP8 1143 TFLOPS; MI300X its MAF x the MI325X TAF/MAF ratio: BF16 0.396, "
    "FP8 0.366 of peak) and MI300X HBM at 0.783 of spec (Azure AI-benchmarking-guide "
    "BabelStream, 4.15 of 5.3 TB/s) (ROCM_GEMM_EFFICIENCY, ROCM_STREAM_BW_FRACTION, "
    "perf/rocm_rates.py)"
)

VLLM_BLOCKSCALE_PATH = (
    "vLLM on gfx942 runs FP8 block-scaled linear layers through the same AITER CK kernel when "
    "VLLM_ROCM_USE_AITER=1 (VLLM_ROCM_USE_AITER_LINEAR defaults to True): Fp8LinearMethod "
    "(quantization/fp8.py) sets use_aiter_and_is_supported = "
    "rocm_aiter_ops.is_linear_fp8_enabled() "
    "(= VLLM_ROCM_USE_AITER and VLLM_ROCM_USE_AITER_LINEAR, vllm/_aiter_ops.py@8ed78142) for "
    "W8A8BlockFp8LinearOp, whose _run_aiter calls rocm_aiter_ops.gemm_a8w8_blockscale (CK) "
    "whenever current_platform.is_fp8_fnuz() (gfx942), the Triton variant only on OCP-FP8 GPUs "
    "(quantization/utils/fp8_utils.py@007d5005); the stored commits were not matched to the "
    "records' v0.16.0 / v0.18.0 tags; the vllm profile assumes VLLM_ROCM_USE_AITER=1, as the "
    "InferenceX MiniMax-M2.5 MI300X/MI325X launch scripts set (InferenceX@19c735aa "
    "benchmarks/single_node/minimaxm2.5_fp8_mi3{00,25}x.sh); without it vLLM runs its Triton "
    "block-scaled GEMM, not measured"
)
"""Why the vllm profile takes ROCM_FP8_DENSE_DECODE_BW: its gfx942 block-scale dispatch."""

ROCM_DECODE_SOURCE = (
    "; sglang and vllm on MI300X/MI325X: FP8 block-scaled dense weights at decode at 0.184 TB/s, "
    "AITER's A8W8 block-scale GEMM rows of a published MI325X DeepSeek-R1 decode trace at "
    "64 requests (InferenceX issue 863; bytes over time less 6.25 us a kernel) "
    "(ROCM_FP8_DENSE_DECODE_BW, perf/rocm_rates.py); " + VLLM_BLOCKSCALE_PATH
)
