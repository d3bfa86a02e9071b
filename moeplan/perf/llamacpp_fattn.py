"""llama.cpp's CUDA flash attention in a decode step with a quantized K/V cache: what it reads
beyond one pass over the cache.

At one token a sequence, a quantized cache (-ctk/-ctv q8_0, q4_0, ...) always runs the vector FA
kernel, in every mainline build from PR 7527 (2024-06-01) through 2026-09: the MMA kernel needs
F16 K/V at batch 1 (ggml/src/ggml-cuda/fattn.cu@a42bdfd2 L315-326, `mma_needs_data_conversion`;
fattn.cu@d99724f2 ggml_cuda_get_best_fattn_kernel: VEC for quantized K/V at Q->ne[1] == 1 on
Ampere, <= 2 on Ada and later). The vector kernel gives each CUDA block one query head, which
reads its group's K/V on its own (`K += nb12*(head / gqa_ratio)`, fattn-vec-f16.cuh@a42bdfd2
L57-62, fattn-vec.cuh@d99724f2 L104-111), so a layer's K/V is read once per query head:
num_heads / num_kv_heads times. F16 K/V take the MMA kernel there, which packs a GQA group's
heads into one block and reads each tile once (Ampere with an even group; Ada/Blackwell from
PR 15035 at group > 4 and n_kv >= 8192) - priced as one read, as before.

Checked against published depth sweeps (mainline Qwen3-235B-A22B, 64 query / 4 KV heads: RTX
A6000 q8_0, ik_llama.cpp PR 370, 10.21 -> 9.05 -> 8.09 -> 6.41 tok/s at N_KV 0 / 8192 / 16384
/ 32256, and RTX 3090 rows of discussion 357; a 27B hybrid, 16 full-attention layers of 24
query / 4 KV heads, on an RTX 3090 and an RTX 5090, TheTom/llama-cpp-turboquant issue 102,
F16 vs q8_0 to 55k): the per-token slope of q8_0 decode is the quantized K/V bytes x the
group size / DRAM bandwidth within -9..+14%, where one read at DRAM bandwidth is 7-16x short;
F16 sweeps fit one read within -1..+2%. Above the vector kernel's query tokens a step the cache
is converted to F16 for the MMA kernel (vec_fa_reread_bytes).
Limits: where a layer's whole K/V fits in L2 (RTX 5090's 96 MB below ~8k tokens) the re-reads
partly hit the cache and this overprices; q4_0 is priced by its bytes (no CUDA q4_0 depth sweep
was found; a dequantization-bound kernel would make it cost about what q8_0 does); MLA caches
(DeepSeek) run another kernel and are not priced here; AMD/HIP, Vulkan and Metal not modelled.
"""

from __future__ import annotations

from moeplan.hardware.gpus import GPU
from moeplan.memory.cache import (
    LLAMACPP_QUANTIZED_KV,
    attention_kv_bytes,
    decode_span,
    kv_dtype_bytes,
    read_groups,
)
from moeplan.model.specs import AttentionKind, ModelSpec

VEC_MAX_QUERY_TOKENS_ADA = 2
"""Query tokens a step up to which fattn.cu@d99724f2 keeps a quantized cache on the vector kernel
on Ada and later (cc >= 8.9; Ampere: 1); above, it converts K/V to F16 for the MMA kernel."""


def _vec_limit(gpu: GPU) -> int:
    """Ada, Hopper and Blackwell have FP8 tensor cores, Ampere and older none: the catalog's FP8
    peak stands in for the compute capability >= 8.9 test of the kernel selection."""
    return VEC_MAX_QUERY_TOKENS_ADA if gpu.fp8_flops else 1


def vec_fa_reread_bytes(
    spec: ModelSpec,
    context: int,
    kv_quant: str,
    gpu: GPU,
    sequences: float = 1,
    tokens_per_sequence: int = 1,
) -> float:
    """Bytes llama.cpp's CUDA flash attention reads in one decode step of `sequences` sequences
    at `context` tokens beyond one pass over their quantized K/V cache. While the step's query
    tokens fit the vector kernel (1; 2 from Ada on), each layer's K/V over its span
    (decode_span) again x (query heads per KV head - 1); above, the MMA kernel's conversion of
    the cache to F16 (an F16 write and an F16 read, 2 x 2 / bytes-per-value of the quantized
    bytes; from the kernel selection, not checked against a measurement). 0 for F16/BF16
    caches, MLA layers and GPUs other than NVIDIA."""
    if kv_quant not in LLAMACPP_QUANTIZED_KV or gpu.vendor.lower() != "nvidia":
        return 0.0
    b = kv_dtype_bytes(kv_quant)
    vec = sequences * tokens_per_sequence <= _vec_limit(gpu)
    extra = 0.0
    for attn, window, chunked, n in read_groups(spec):
        if attn.kind is AttentionKind.MLA or not attn.num_kv_heads:
            continue
        factor = attn.num_heads / attn.num_kv_heads - 1 if vec else 2 * 2 / b
        tokens = decode_span(context, window, chunked)
        extra += n * attention_kv_bytes(attn, b) * tokens * factor
    return sequences * extra
