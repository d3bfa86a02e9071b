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

ROCM_RATES_SOURCE = (
    "on MI300X/MI325X: prompt GEMMs at AMD's Typical Attained FLOPs (ROCm blogs TAF, 2026-10-06, "
    "MI325X BF16 616 / FP8 1143 TFLOPS; MI300X its MAF x the MI325X TAF/MAF ratio: BF16 0.396, "
    "FP8 0.366 of peak) and MI300X HBM at 0.783 of spec (Azure AI-benchmarking-guide "
    "BabelStream, 4.15 of 5.3 TB/s) (ROCM_GEMM_EFFICIENCY, ROCM_STREAM_BW_FRACTION, "
    "perf/rocm_rates.py)"
)
