"""Kernels one decode step launches per layer, by block, for each engine path moeplan prices
(kernels_per_step sums them; engines.py gives each engine profile one)."""

from __future__ import annotations

from dataclasses import dataclass

from moeplan.model.specs import ModelSpec

# Kernels a decode step launches per layer in the CUDA-graph engines (vLLM/SGLang fused-MoE
# path): attention block = fused add+norm, QKV GEMM, rope, split-KV attention and its merge,
# O GEMM, plus one kernel each for q- and k-norm where the model has them; routed MoE block =
# add+norm, router GEMM, top-k softmax, block alignment (2), gate_up GEMM, activation, down
# GEMM, combine; shared experts add gate_up, activation, down (and a sigmoid gate in Qwen2);
# dense FFN = add+norm, gate_up, activation, down. Collectives are counted by the
# communication terms.
KERNELS_PER_ATTENTION = 7
KERNELS_PER_QK_NORM = 2
KERNELS_PER_MOE_FFN = 9
KERNELS_PER_SHARED_EXPERTS = 3
KERNELS_PER_DENSE_FFN = 4


@dataclass(frozen=True)
class KernelCounts:
    """Kernels one decode step launches per layer, by block (see kernels_per_step)."""

    attention: int = KERNELS_PER_ATTENTION
    qk_norm: int = KERNELS_PER_QK_NORM
    moe_ffn: int = KERNELS_PER_MOE_FFN
    shared_experts: int = KERNELS_PER_SHARED_EXPERTS
    dense_ffn: int = KERNELS_PER_DENSE_FFN
    linear_attention: int | None = None  # a Gated DeltaNet mixer layer; None: as attention
    output_gate: int = 0  # an attention output gate (Qwen3-Next): kernels beyond attention


FUSED_MOE_KERNELS = KernelCounts()

LLAMACPP_GDN_KERNELS = 31
"""A Gated DeltaNet layer of llama.cpp's batch-1 decode graph (Qwen3-Next, Qwen3.5), counted
from ggml-org/llama.cpp src/models/qwen3next.cpp build_layer_attn_linear (@02ebd8f7) and
src/models/delta-net-base.cpp (@156ce1c1) with the fused GATED_DELTA_NET op (PR 19504, op added
2026-02-11) and the rms_norm+mul fusion as in LLAMACPP_KERNELS: rms_norm+mul (1), the qkv, z and
beta/alpha projections (3 x 2, each quantizing its activation), cont + sigmoid of beta (2), cont,
add dt_bias, softplus, mul A of alpha (4), the conv and recurrent states gathered (2), the concat
of conv state and input (1) and the conv state written back (1), ssm_conv and SiLU (2), l2_norm
of q and k (2), their repeat to the value heads (2, Qwen3-Next's 16 key heads to 32 value heads),
the fused delta rule (1) and its state written back (1), the gated norm (rms_norm+mul, SiLU of z,
mul: 3), the output projection (2), the residual add (1): 31, where an attention layer has 15."""

LLAMACPP_GDN_AUTOREGRESSIVE_KERNELS = LLAMACPP_GDN_KERNELS - 1 + 12
"""The same layer in builds between ggml-org/llama.cpp PR 17996 (2025-12-13, 'a dedicated
autoregressive version of delta-net ... for n_seq_tokens == 1') and the fused op's use: the delta
rule as 12 ops (delta-net-base.cpp build_delta_net_autoregressive: scale q, exp g, s x g, s x k,
sum_rows, sub, x beta, repeat k, k x d, add, s x q, sum_rows), "the decomposed 23-op graph"
whose fusion saves 12 ops a layer (ggml-org/llama.cpp PR 20091's node counts: 48 layers x 12)."""

LLAMACPP_KERNELS = KernelCounts(
    attention=15,
    qk_norm=0,
    moe_ffn=9,
    shared_experts=5,
    dense_ffn=6,
    linear_attention=LLAMACPP_GDN_KERNELS,
    output_gate=3,
)
"""llama.cpp's batch-1 decode graph after the CUDA backend's fusions (ggml/src/ggml-cuda/
ggml-cuda.cu, ggml_cuda_try_fuse and ggml_cuda_can_fuse, ggml-org/llama.cpp commit 00108827),
counted per layer. Every matmul on quantized weights is two kernels: mul_mat_vec_q first
quantizes its activation to q8_1 (mmvq.cu, quantize_row_q8_1_cuda, once per call, so Q, K and V
each pay it). Attention (15): rms_norm+mul (1), Q, K, V (3 x 2), rope of Q (1), rope+view+
set_rows of K into the cache (1), V set_rows (1), flash attention and its combine of the KV
splits (2), O (2), residual add (1). q/k-norm adds none: rms_norm+mul+rope (and +view+set_rows
for K) are fused. Routed MoE (9): rms_norm+mul (1), router mul_mat on the F32 gate (1), fused
top-k MoE (softmax/argsort/get_rows/norm: 1), gate+up mul_mat_id fused with the GLU (2 with its
quantize), down mul_mat_id (2), the weighted sum over experts (moe_weighted_reduction: 1),
residual add (1). Shared experts (5): gate+up+GLU (2), down (2), add (1). Dense FFN (6): norm,
gate+up+GLU (2), down (2), add. Gated DeltaNet layers: LLAMACPP_GDN_KERNELS; Qwen3-Next's
gated attention adds the gate's cont, sigmoid and mul (3; qwen3next.cpp build_layer_attn). The
same graph is counted for the Metal and HIP backends."""


def linear_attention_note(spec: ModelSpec, counts: KernelCounts) -> str | None:
    """What an estimate of a Gated DeltaNet model on llama.cpp leaves out, said with it: only
    the layers' kernel count is priced, and published builds of early 2026 ran far slower than
    that (ggml-org/llama.cpp issue 19345, 2026-02: Qwen3-Coder-Next Q8_0 at 70-80 tok/s on an
    RTX PRO 6000 Max-Q, where the same estimate gives about 185; its diagnosis: CUDA graphs
    disabled after ~128 tokens of decode; ik_llama.cpp PR 1278: mainline b8084 at 104 tok/s on
    2 x RTX 3090, IQ4_XS, where it gives 174; the five Qwen3-Next offload runs of
    offload_runs_collect4.yaml, 1.1-1.5x). None for other engines and models."""
    if counts.linear_attention is None:
        return None
    if not spec.num_linear_attention_layers:
        return None
    return (
        f"{spec.name} has Gated DeltaNet layers: llama.cpp's decode is priced by their kernel "
        "count only; published runs of early-2026 builds were 1.1-2.5x slower than such "
        "estimates (ggml-org/llama.cpp issue 19345: CUDA graphs disabled after ~128 tokens)"
    )


SGLANG_FI_MLA_KERNELS = KernelCounts(
    attention=11, qk_norm=0, moe_ffn=7, shared_experts=6, dense_ffn=5
)
"""SGLang's DeepSeek (MLA) decode layer on Blackwell with `--attention-backend trtllm_mla
--moe-runner-backend flashinfer_trtllm --enable-flashinfer-allreduce-fusion --quantization
modelopt_fp4` and an FP8 KV cache, counted per layer from the source (issue 14). The all-reduce
after attention and after the MoE block is FlashInfer's fused all-reduce + residual add + RMSNorm
(flashinfer-ai/flashinfer@fb28d724 include/flashinfer/comm/trtllm_allreduce_fusion.cuh,
kARResidualRMSNorm; sgl-project/sglang@fd3907ee python/sglang/srt/layers/communicator.py fuses
the MoE all-reduce with the next layer's input norm), so no block has an add+norm kernel of its
own and the all-reduce is priced by the communication terms. Attention (11; sglang@005ffc65
models/deepseek_common/attention_forward_methods/forward_mla.py forward_absorb_prepare/core,
sglang@0042fd97 layers/attention/trtllm_mla_backend.py forward_decode): fused q_a + kv_a GEMM,
q_a and kv_a RMSNorm (2, the second on a side stream), q_b GEMM, q_nope x W_UK bmm, rope + FP8
quantize of q and k (flashinfer mla_rope_quantize_fp8), KV-cache write (set_mla_kv_buffer),
trtllm-gen MLA decode (its multi-CTA split reduces in the same kernel), W_UV bmm, O projection
in NVFP4 (activation fp4_quantize + GEMM: 2). Routed MoE (7; sglang@dec8155f
layers/moe/moe_runner/flashinfer_trtllm.py fused_experts_none_to_flashinfer_trtllm_fp4,
flashinfer@fb28d724 csrc/trtllm_fused_moe_runner.cu Runner::run and csrc/fused_moe/
trtllm_backend/trtllm_fused_moe_routing_deepseek.cu): router GEMM, fp4_quantize of the hidden
states, DeepSeek routing main kernel + single-cluster permute kernel (2; up to 256 tokens at
top-8 of 256 experts, else 2-3 kernels), permute + FC1 GEMM with the SwiGLU fused, FC2 GEMM,
finalize (weighted sum over the top-k). Shared expert (6; sglang@3e4a39ee models/deepseek_v2.py
DeepseekV2MoE.forward_normal_dual_stream, on a side stream in CUDA-graph decode): gate_up and
down in NVFP4 (quantize + GEMM each: 4), SiLU-and-mul, the add into the routed output. Dense FFN
(5): gate_up and down in NVFP4 (4) and the activation. Element-wise dtype casts of the router
logits or the routing bias, where the checkpoint's dtypes need them, are not counted. Counted for
MLA; another attention would need its own count."""


SGLANG_FI_KERNEL_S = 4.3e-6
"""Fixed GPU time per kernel of SGLang's FlashInfer / TensorRT-LLM-gen Blackwell path (the
`sglang-fi` profile): each kernel's measured mean duration less the time of its bytes at the
engine's stream rate (B200: 0.85 x 7.7 TB/s), averaged over the kernel classes of a published
per-kernel table of its decode step, weighted by launches a step. Source: SemiAnalysisAI/InferenceX
issue 863 (Klaud-Cold, 2026-03-04; the Perfetto trace profiles/f65d6b4b/b200/sglang/
dsr1_1k1k_fp4_tp4_ep4_conc64 of InferenceX-trace-storage), one decode step of DeepSeek-R1 FP4 on
B200, TP4 EP4, concurrency 64, CUDA graphs (the MLA kernel's grid has 64 in its batch dimension).
Rows used, launches a step x mean, bytes a launch at 64 rows and TP4:
- cvt_fp16_to_fp4 (NVFP4 activation quantize), 183 x 2.1 us; 0.65 MB (its input widths 4096 /
  7168 / 512 / 4608, BF16 read, FP4 + an FP8 scale per 16 written): 0.10 us, so 2.0 us beyond;
- DeviceGemmFp4GemmSm100 (the NVFP4 linears: O, the shared expert's or dense FFN's gate_up and
  down), 183 x 8.4 us; 9.2 MB on average (weights at 4.5 bits, activations): 1.41 us, 7.0 beyond;
- finalizeKernelVecLoad (the MoE's weighted top-k sum), 58 x 7.3 us; 8.3 MB (64 x 8 BF16 rows of
  7168 read, 64 written): 1.26 us, 6.0 beyond;
- the three nvjet (cuBLAS) BF16 GEMMs a layer, 61 x 8.9, 6.4 and 4.1 us: the fused q_a + kv_a
  projection (7168 x 2112, replicated), q_b (1536 x 6144 at TP4) and one absorbed MLA bmm (32
  heads x 512 x 128), 58.1 MB a layer together whichever row is which: 8.9 us, so 3.5 us beyond
  each (BF16: the checkpoint quantizes O but not these; SGLang would requantize q_b_proj to FP8
  only with SGLANG_NVFP4_CKPT_FP8_GEMM_IN_ATTN, EnvBool(False) in sgl-project/sglang@21ff4b08
  python/sglang/srt/environ.py).
(183 x 2.0 + 183 x 7.0 + 58 x 6.0 + 183 x 3.5) / 607 = 4.35 us (2.0-7.0 by class). Left out: the
MLA decode kernel and the routed-expert GEMMs, whose time is their reads' (priced as bytes; the
table's gaps there are noted in tests/test_engine_kernels.py), and a 58-launch nvjet row whose
kernel the table does not name for certain (router GEMM or shared expert; 4.5 us beyond if the
router: 4.36 us with it). The table lists these rows only; the step's other kernels (norms, rope,
KV write, routing, the all-reduce) are taken to cost the same. This replaces 2.1 us, the quantize
kernel's mean alone, a floor by construction. The launch gap between graph kernels (~1.3 us on
H100, Hazy Research 2025-05-27; CUDA_GRAPH_KERNEL_S) is not added: these kernels are launched with
programmatic dependent launch, which starts a kernel before its predecessor ends (in a CUDA graph
on H100 PDL removed 0.96 us, all of an empty kernel pair's gap: pegainfer-project/pegainfer issue
569, 2026-07-06), and a kernel that starts early and waits shows that wait in its own duration;
by the same token the durations may overlap their predecessors' tails, so this is an upper reading
of the cost within each kernel class. Measured on B200 (SM100), where these kernels run; the
held-out B200/B300 records set nothing (issue 14)."""


def kernels_per_step(
    spec: ModelSpec, moe_measured: bool = False, counts: KernelCounts = FUSED_MOE_KERNELS
) -> int:
    """Kernels one forward pass launches (`counts` per layer, engines.py lists them); the
    routed-MoE kernels drop out when a calibration's measured MoE curve already holds their
    time."""
    attention = counts.attention + (counts.qk_norm if spec.attention.qk_norm.value != "none" else 0)
    if spec.attention.output_gate:
        attention += counts.output_gate
    linear = spec.num_linear_attention_layers
    linear_kernels = attention if counts.linear_attention is None else counts.linear_attention
    moe = 0 if moe_measured else counts.moe_ffn
    if spec.moe is not None and spec.moe.num_shared_experts:
        moe += counts.shared_experts + (1 if spec.moe.shared_expert_gate else 0)
    return (
        (spec.num_layers - linear) * attention
        + linear * linear_kernels
        + spec.num_moe_layers * moe
        + spec.num_dense_layers * counts.dense_ffn
    )
