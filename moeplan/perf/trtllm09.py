"""What TensorRT-LLM 0.9 ran for FP8 MoE experts: the source text of the trtllm-0.9 profile
(engines.py), which runs them out of the box."""

from __future__ import annotations

TRTLLM_09_MOE_SOURCE = (
    "TensorRT-LLM v0.9.0 (NVIDIA/TensorRT-LLM@250d9c29): the MixtureOfExperts plugin runs "
    "fp32/fp16/bf16 experts and weight-only int8/int4 ones only (plugins/mixtureOfExperts/"
    "mixtureOfExpertsPlugin.cpp, init) and layers/moe.py gives it fp16 experts under FP8 "
    "quantization; FP8 experts exist only without the plugin, where moe.py runs every expert "
    "(a GatedMLP of FP8Linear layers, layers/mlp.py) over all tokens and masks the sum by the "
    "top-k weights; FP8 quantization for Mixtral came in 0.10.0 (release notes)"
)
"""What TensorRT-LLM 0.9 ran for FP8 MoE experts (issue 17; the held-out 0.9.0 Mixtral FP8
first-token rows prompted the look). Checks from the same doc that are not records here: its
Mixtral FP8 throughput rows (docs/source/performance.md@v0.9.0, Peak Throughput; static
batches, `latency --batch B --input I --output O --kv-quant fp8`, end to end) are predicted
-28%..+23% (median |error| 12%, 12 rows) this way and -22%..+190% (median +45%) with routed
FP8 experts (2048/128, batch 64: H100 588 tok/s/GPU published, 622 vs 1284; L40S 155, 148 vs
221); the A100 FP16 rows (plugin either way) -46%..-1%. Without the plugin, moe_tp_mode
TENSOR_PARALLEL (the default) would all-reduce each expert's output in its RowLinear (9
all-reduces a layer, not 2): on the PCIe L40S that predicts 67 and 517 tok/s/GPU for the
published 155 and 1266, so the runs split the experts otherwise (EXPERT_PARALLEL all-reduces
once a layer) and moeplan keeps the layout's collectives. The kernel count of the unfused
layer is not modelled (the fused one is kept)."""
