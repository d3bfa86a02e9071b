"""Activation bytes the routed-MoE block moves through memory, beside its weight reads.

A fused-MoE layer runs its experts over tokens x top_k "expanded" rows, and every stage of it
reads and writes a tensor of that many rows. TensorRT-LLM's CUTLASS MoE runner,
CutlassMoeFCRunner::runMoe (NVIDIA/TensorRT-LLM@000dea273b339cd5074b3e9b03d5c2c1b10171ba
cpp/tensorrt_llm/kernels/cutlass_kernels/moe_gemm/moe_kernels.cu), per expanded row of a layer:

1. expandInputRowsKernelLauncher: reads the token's hidden row and writes it to permuted_data_
   in the experts' activation format. The PyTorch module that calls runMoe quantizes each token
   once before it (FP8 static_quantize_e4m3_per_tensor / NVFP4 fp4_quantize in
   CutlassFusedMoE.forward_chunk, NVIDIA/TensorRT-LLM@000a01de66f0eab4ab05640711f0253f50f5209c
   tensorrt_llm/_torch/modules/fused_moe/fused_moe_cutlass.py; SGLang's flashinfer_trtllm
   runner and vLLM's fused_moe quantize per token too), so the copy reads and writes quantized
   rows and the quantize pass, h(a + q) a token, is shared by its top_k rows;
2. gemm1: reads that row, writes the gate_up output to glu_inter_result_ (BF16, 2 x
   moe_intermediate wide for a gated FFN: the "has_intermediate" path of
   setupTmaWarpSpecializedInputs);
3. the activation (doActivation): reads it, writes fc1_result_ (moe_intermediate wide, quantized
   for gemm2);
4. gemm2: reads that, writes fc2_result_ (BF16, hidden wide);
5. finalizeMoeRouting: reads the top_k rows of a token, writes its weighted sum (BF16, hidden
   wide, once per token). A fused-finalize GEMM2 epilogue skips fc2_result_'s write and read and
   scatters into the output instead; counted as unfused (tactic-dependent).

vLLM's Triton fused_moe (vllm/model_executor/layers/fused_moe/fused_moe.py) has the same shape
without step 1's copy (its first GEMM gathers the hidden rows through sorted_token_ids) and
writes intermediate_cache1/2/3 then moe_sum: two hidden-wide row-passes fewer. One count is
used for every engine; the difference is at most 2 x hidden x quantized bytes a row.

GEMM FLOPs against these bytes: Qwen3-30B-A3B (hidden 2048, moe_intermediate 768, top-8, NVFP4)
does 2 x 3 x 2048 x 768 x 8 = 75.5 MFLOP a token and layer against 158,592 bytes here (476
FLOP/byte), about the ridge point of a B200 at TensorRT-LLM's measured FP4 GEMM rate (0.345 of
9 PFLOPS over 0.88 x 7.7 TB/s: 458 FLOP/byte, perf/trtllm_gemm.py), so at prefill token counts
this traffic costs as much time as the experts' math (issue 14)."""

from __future__ import annotations

from moeplan.hardware.gpus import GPU
from moeplan.memory.estimate import ACTIVATION_BYTES
from moeplan.model.specs import ModelSpec
from moeplan.perf.moe_comm import GATHERED_BYTES_PER_VALUE
from moeplan.perf.parallel import Layout
from moeplan.perf.terms import experts_whole_per_rank, stage_fraction


def activation_format(expert_compute: str, gpu: GPU) -> str:
    """The math type the expanded rows are quantized to: the experts' (FP8 / NVFP4, which
    runMoe's expand and activation kernels quantize to) where the GPU has tensor cores for it,
    else BF16: a GPU without that datatype runs the GEMM at its BF16 peak on dequantized
    weights (GPU.peak_flops), weight-only, so its activations stay BF16 (e.g. MXFP4 / NVFP4
    experts on an H100, FP8 experts on an A100: W4A16 / W8A16)."""
    return expert_compute if gpu.has_peak(expert_compute) else "bf16"


def bytes_per_expanded_row(spec: ModelSpec, expert_compute: str, inter_share: float = 1.0) -> float:
    """Bytes the five passes above read and write for one expanded row (a token's pick of one
    expert) in one MoE layer. h = hidden (the latent width for a latent MoE), i = the
    moe_intermediate a GPU holds (x `inter_share`, a tensor-parallel slice), g = 2 for a gated
    FFN, a = BF16 bytes, q = bytes a value of the experts' activation format
    (GATHERED_BYTES_PER_VALUE: NVFP4 0.5625, FP8 1, else BF16):
    expand (2 h q, plus the per-token quantize h(a + q) / top_k where q < a) + gemm1 (h q + g i a)
    + activation (g i a + i q) + gemm2 (i q + h a) + finalize (h a + h a / top_k)."""
    moe = spec.moe
    if moe is None:
        return 0.0
    h = moe.latent_size or spec.hidden_size
    i = moe.expert_intermediate_size * inter_share
    g = 2 if spec.ffn_gated else 1
    a = float(ACTIVATION_BYTES)
    q = GATHERED_BYTES_PER_VALUE.get(expert_compute, a)
    quantize = h * (a + q) / moe.top_k if q < a else 0.0  # once a token, before the expand
    expand = quantize + 2 * h * q
    gemm1 = h * q + g * i * a
    activation = g * i * a + i * q
    gemm2 = i * q + h * a
    finalize = h * a + h * a / moe.top_k
    return expand + gemm1 + activation + gemm2 + finalize


def moe_activation_bytes_per_gpu(
    spec: ModelSpec,
    layout: Layout,
    expert_compute: str,
    stage_tokens: float,
    picks: int,
    load: float = 1.0,
) -> float:
    """Activation bytes of the stage's MoE layers on the busiest GPU for `stage_tokens` tokens
    of `picks` experts each: expert parallel (whole experts a rank) gives a rank `load` x its
    1/ep share of the expanded rows (rank_load_factor, as the experts' FLOPs), its experts'
    moe_intermediate sliced over the gpus_per_stage / ep GPUs of the rank; tensor-parallel
    experts give every GPU all rows, moe_intermediate / gpus_per_stage wide."""
    if spec.moe is None:
        return 0.0
    ranks = layout.ep if experts_whole_per_rank(spec, layout) else 1
    row = bytes_per_expanded_row(spec, expert_compute, ranks / layout.gpus_per_stage)
    return expanded_rows_per_gpu(spec, layout, stage_tokens, picks, load) * row


def expanded_rows_per_gpu(
    spec: ModelSpec, layout: Layout, stage_tokens: float, picks: int, load: float = 1.0
) -> float:
    """Expanded rows (a token's pick of one expert) the stage's MoE layers run on the busiest GPU:
    whole experts a rank give it `load` x 1/ep of them, tensor-parallel experts all of them (a
    slice of each row's width). Shared by the activation bytes above and the row cost of
    TensorRT-LLM's NVFP4 fused MoE (trtllm_moe.py)."""
    if spec.moe is None:
        return 0.0
    ranks = layout.ep if experts_whole_per_rank(spec, layout) else 1
    layers = spec.num_moe_layers * stage_fraction(spec, layout)
    return layers * load * picks * stage_tokens / ranks
