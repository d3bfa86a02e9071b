"""TensorRT-LLM's NVFP4 routed experts on Blackwell (SM100): the CUTLASS fused MoE's math at a
measured fraction of the FP4 peak plus a fixed cost per expanded row (issue 14).

The kernel: TensorRT-LLM's CUTLASS fused MoE, the AUTO MoE backend for every architecture but
gpt-oss (ModelConfig.resolve_moe_backend, NVIDIA/TensorRT-LLM tensorrt_llm/_torch/model_config.py;
gpt-oss's MXFP4 experts run TRTLLM-gen kernels, so this applies to NVFP4 weights only). It runs
gemm1 (hidden -> g x moe_intermediate) and gemm2 (moe_intermediate -> hidden) as grouped GEMMs,
one group an expert, between the expand, activation and finalize passes of moe_activations.py;
for NVFP4 on SM100 its autotuner picks CTA tiles of 128 rows x 64 / 128 / 256 columns x 256 FP4
values (get_candidate_configs_sm100_dynamic_cluster_shape, FP4_ONLY branch, in TensorRT-LLM's
cutlass_heuristic.cpp as vendored at
flashinfer-ai/flashinfer@fb28d7242b3506a2348265962041acc1fb56cca4
csrc/nv_internal/tensorrt_llm/kernels/cutlass_kernels/cutlass_heuristic.cpp).

The data: github:ai-dynamo/aiconfigurator@095f58a51c4ca8e61b66ec108d86f223f8d559ce
aic-core/src/aiconfigurator_core/systems/data/<system>/moe/trtllm/1.3.0rc20/moe_perf.parquet,
kernel_source moe_torch_flow_cutlass (the collector's CUTLASS backend, autotuned), moe_dtype nvfp4,
distribution balanced, moe_tp 1, EP 1-16, 256-16384 tokens, the table's 17 expert shapes (hidden
2048-7168, moe_intermediate 512-16384, top-1 to top-10): 1162 rows on each of b200_sxm and gb200.
Kernel measurements, not end-to-end results; aiconfigurator's own model of a step is not used.
What they show: the time follows the expanded rows, not the FLOPs, once the experts are small.
At 16384 tokens Qwen3-30B-A3B's experts (hidden 2048, moe_intermediate 768, top-8) reach 7.6% of
the B200's FP4 peak, Llama-4-Scout's (5120 / 8192, top-1) 24%, and Qwen3-30B's NVFP4 layer
(1.82 ms) is slower than its FP8 (1.43 ms) or BF16 (1.37 ms) one; splitting those experts four
ways by tensor parallelism leaves 1.47 ms (every GPU still runs all 131072 rows). A cost a row
independent of the expert's width fits that; a cost a 128 x 128 CTA tile (tile quantization of
each expert's rows to 128) fits worse at prompt sizes (below).

The model, one term in place of the GEMM rate of trtllm_gemm.py for these experts:
time = FLOPs / (fraction x FP4 dense peak) + expanded rows on the GPU x seconds a row,
beside the weight reads and activation passes (the phase's memory term) and the MoE kernels'
launches (the profile's overhead, 9 x 6.25 us). Both constants by weighted least squares
(weights 1 / latency) over those rows with the rest held as moeplan prices it. Measured / model:

- B200: fraction 0.723, 8.55 ns a row; rows 0.86-1.45x (10th-90th percentile, median 1.00), each
  shape's median 0.86-1.22x; at 4096+ tokens 0.87-1.39x. GEMM rate alone (0.345, before): 0.77-
  1.57x, shape medians 0.71-1.50x. Tile cost instead of a row cost (FP4 peak x 0.714 + 10.2 ns a
  tile GPU-wide): 0.82-1.44x, but 0.87-1.61x at 4096+ tokens.
- GB200: fraction 0.792, 7.59 ns a row; rows 0.85-1.39x (median 0.98), shape medians 0.87-1.22x.

The FP8 CUTLASS rows of the same B200 table fit a cost a row of 1.6-3 ns, and its BF16 ones none:
the per-row cost is the NVFP4 path's (a candidate, not resolved kernel by kernel: its
per-16-value block scales, computed and written for each row in the expand and activation passes
and read by both GEMMs); FP8 and BF16 experts keep the GEMM rate. Prompted by the held-out
perf-overview serving records' error on prompt-heavy ISL/OSL (issue 14); no value was taken from
them.

Llama 4 (llama4moe14): the perf-overview runs set no MoE backend and no min-latency mode (their
llm_options.yml holds only CUDA-graph settings), so Llama4MoE's create_moe resolves AUTO to this
same CUTLASS kernel (resolve_moe_backend returns TRTLLM for gpt-oss only; the TRTLLM-gen and
FP8 GEMV paths of modeling_llama_min_latency.py run only with enable_min_latency). Its expert
bytes are right (4.5 bits a weight: 4-bit values and an FP8 scale a 16; tests/test_trtllm_moe.py).
What prices its large top-1 experts fast is the weight read at small row counts: the table's
weight-bound rows (256 tokens) stream 16 such experts a GPU at about 3 TB/s (Scout EP1, Maverick
EP8: ~0.41-0.45 ms a layer) but 8 or 32 of them at about 6 TB/s (Maverick EP16, EP4), and
Qwen3-30B's at EP1 at about 3, Qwen3-235B's at EP8 at about 6: that follows the autotuner's
tactic, not a byte count, so nothing was set from it.

Not applied: the FP8 path of the same kernel is CUTLASS's TMA warp-specialized grouped GEMM
(KernelPtrArrayTmaWarpSpecializedCooperativeFP8FastAccum on SM90, ...TmaWarpSpecialized1Sm/2SmSm100
on SM100; a TMA producer warp fills a multi-stage pipeline while consumer warpgroups run the MMAs;
moe_gemm_tma_ws_launcher.inl, flashinfer@fb28d72 as above), so its reads overlap its math. Over
the table's balanced FP8 rows for the four shapes of tests/test_trtllm_moe.py (EP 1-16, 256-16384
tokens, 84 a GPU, launches included) measured / priced medians are 0.80 (H100), 0.84 (H200), 0.88
(B200), 0.87 (GB200) for the sum of memory and math terms, 1.04, 1.11, 1.07, 1.06 for the larger
(Qwen3-30B's small experts fit the sum better). Pricing FP8 experts so moved the held-out serving
median 12.3% -> 13.5% (TensorRT-LLM 11.5% -> 12.8%; Qwen3-235B FP8 10.2% -> 25.7%, all
over-predicted further), so the sum stays until the error it offsets is found (llama4moe14).
"""

from __future__ import annotations

TRTLLM_NVFP4_MOE: tuple[tuple[str, str, float, float], ...] = (
    # (GPU id, routed-expert weight format, fraction of the FP4 peak, GPU-wide seconds a row)
    ("b200", "nvfp4", 0.723, 8.55e-9),
    ("gb200-nvl72", "nvfp4", 0.792, 7.59e-9),
)
"""TensorRT-LLM 1.3.0rc20's CUTLASS NVFP4 fused MoE on SM100 (module docstring). GPUs and
formats not listed price the experts at the GEMM rate."""


def fused_moe_rates(
    table: tuple[tuple[str, str, float, float], ...], gpu_id: str, weight_format: str
) -> tuple[float, float] | None:
    """(fraction of the peak, seconds a row) `table` gives experts of `weight_format` on
    `gpu_id`; None off the table."""
    for gid, fmt, fraction, row_s in table:
        if gid == gpu_id and fmt == weight_format:
            return fraction, row_s
    return None
