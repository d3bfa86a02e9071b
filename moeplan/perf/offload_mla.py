"""The decode time of an MLA attention kernel whose grid is fixed (ktransformers' Triton grouped
decode kernel); perf/offload.py charges what it takes beyond the KV read of the roofline step."""

from __future__ import annotations

import math

from moeplan.hardware.gpus import GPU
from moeplan.model.specs import AttentionKind, ModelSpec
from moeplan.perf.offload_engines import OffloadProfile

MLA_DECODE_BLOCK_H = 16
"""Query heads one CTA of the Triton grouped MLA decode kernel handles (ktransformers
operators/triton_attention.py _decode_grouped_att_m_fwd, from sglang: BLOCK_H = 16)."""


def mla_decode_kernel_s(
    spec: ModelSpec, gpu: GPU, engine: OffloadProfile, batch: int, context: float
) -> float:
    """One decode step of an MLA decode kernel whose grid is fixed, not sized to the GPU.

    ktransformers runs MLA decode with a Triton grouped kernel on a grid of batch x
    cdiv(heads, 16) x num_kv_splits CTAs (4 splits, operators/attention.py): for DeepSeek-V3's
    128 heads, 8 x 4 = 32 CTAs at batch 1, a quarter of an RTX 4090's 128 SMs. Each CTA walks
    context / splits tokens, doing 2 x 16 x (kv_lora_rank + rope + kv_lora_rank) FLOPs a token
    (QK over the 576-wide latent+rope key, PV over the 512-wide latent) on one SM, so a layer
    takes that at one SM's share of the BF16 tensor peak (bf16_flops / sm_count, 100% of it:
    a bound, not a measured rate), times the waves of CTAs over the SMs. 0 when the engine has
    no such kernel or the GPU entry lacks an SM count or BF16 peak."""
    splits = engine.mla_decode_kv_splits
    if splits is None or gpu.sm_count is None or gpu.bf16_flops is None:
        return 0.0
    total = 0.0
    for layer in spec.layers:
        attn = spec.layer_attention(layer)
        if not layer.keeps_kv or attn.kind is not AttentionKind.MLA or attn.kv_lora_rank is None:
            continue
        width = attn.kv_lora_rank + (attn.qk_rope_head_dim or 0) + attn.kv_lora_rank
        groups = math.ceil(attn.num_heads / MLA_DECODE_BLOCK_H)
        waves = math.ceil(batch * groups * splits / gpu.sm_count)
        flops_per_cta = 2 * MLA_DECODE_BLOCK_H * width * math.ceil(context / splits)
        total += waves * flops_per_cta / (gpu.bf16_flops / gpu.sm_count)
    return total
