"""Measured GEMM efficiency of TensorRT-LLM's Linear layers at prompt sizes, by GPU and math
datatype, from NVIDIA's aiconfigurator kernel database (issue 14).

Source: github:ai-dynamo/aiconfigurator@095f58a51c4ca8e61b66ec108d86f223f8d559ce
aic-core/src/aiconfigurator_core/systems/data/<system>/gemm/trtllm/1.3.0rc20/gemm_perf.parquet
(systems b200_sxm, gb200, h200_sxm, h100_sxm, rtx_pro_6000_server; kernel_source torch_flow):
the latency of TensorRT-LLM's `Linear.forward` on a BF16 input of m x k to n outputs, measured
with its FP8 / NVFP4 quantized weights (collector/trtllm/collect_gemm.py at that commit; the
input's quantize kernel is in the time, as in serving). These are kernel measurements, not
end-to-end results; aiconfigurator's own model of a step is not used.

Reading: for each GPU and datatype, the fraction of the catalog's dense peak (gpus.yaml) that the
GEMM reaches under moeplan's additive roofline (`Phase.add_roofline`): FLOPs / (peak x (t - weight
bytes / (0.88 x HBM bandwidth))), over the dense GEMM shapes of the MoE models TensorRT-LLM
publishes (n x k: 5120 x 2048 and 2048 x 4096, Qwen3-30B-A3B QKV and O; 9216 x 4096 and 4096 x
8192, Qwen3-235B-A22B, 9216 interpolated between the table's 8192 and 10240; 7168 x 5120,
5120 x 5120, 16384 x 5120, 5120 x 8192, Llama-4 QKV, O, shared-expert gate_up and down) at
m = 2048, 4096, 8192 and 16384 tokens: the median of the 32 rows (interquartile range in the
comment). Weight bytes a value: NVFP4 0.5625, FP8 1, BF16 2. Below ~1024 rows the GEMMs are
bound by their weight reads and launch, which the roofline's bytes and the per-kernel overhead
price. The 1.2.0rc5 tables of the same database agree within 0.09 (B200 FP4 0.352, FP8 0.406;
H200 FP8 0.485; H100 FP8 0.475). Prompted by the held-out perf-overview serving records' error
on prompt-heavy ISL/OSL (issue 14); no value was taken from them.

Why FP4 and FP8 fall so far below 0.7 on the B200: at these shapes the low-precision GEMM's
math is short against its fixed costs (the BF16 output and the activation quantize run at HBM
speed whatever the math type), so halving the bytes of a value does not halve the time: the
B200's NVFP4 GEMMs run at about 1.6x its FP8 ones, not 2x, and its FP8 ones at 1.2x BF16.
"""

from __future__ import annotations

TRTLLM_GEMM_EFFICIENCY: tuple[tuple[str, str, float], ...] = (
    ("b200", "fp4", 0.345),  # IQR 0.29-0.38
    ("b200", "fp8", 0.443),  # 0.41-0.53
    ("gb200-nvl72", "fp4", 0.323),  # 0.27-0.36
    ("gb200-nvl72", "fp8", 0.427),  # 0.39-0.47
    ("h200", "fp8", 0.579),  # 0.53-0.62
    ("h100-sxm", "fp8", 0.559),  # 0.51-0.62
    ("rtx-pro-6000", "fp4", 0.613),  # 0.57-0.66
    ("rtx-pro-6000", "fp8", 0.661),  # 0.61-0.72
)
"""(GPU id, math datatype, fraction of that datatype's dense peak) for the trtllm profile: the
median over the rows described in the module docstring, FP8 and NVFP4 only. BF16 GEMMs measure
0.72 / 0.67 / 0.82 / 0.83 / 0.82 on these five GPUs (IQRs within 0.63-0.86), around the
profile's compute_efficiency 0.7, which they keep: that rate also prices the attention core
(`rates.flops("bf16")`), which is not a GEMM, so it is not raised on this evidence. GPUs and
datatypes not listed keep compute_efficiency (a named assumption)."""
