"""Shapes of the token mixers (attention, its indexers and compressors, recurrent mixers) and
the field helper for shapes added after the goldens were pinned (``additive``); re-exported by
``specs``, which holds the model-level dataclasses."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any


def additive(default: Any) -> Any:
    """A field added after the goldens were pinned: left out of ``spec_dict`` (show --json) at its
    default, so the output of models that do not use it stays as it was."""
    return field(default=default, metadata={"additive": True})


def spec_dict(obj: Any) -> Any:
    """dataclasses.asdict, without additive fields at their defaults."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: spec_dict(getattr(obj, f.name))
            for f in fields(obj)
            if not (f.metadata.get("additive") and getattr(obj, f.name) == f.default)
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(spec_dict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: spec_dict(v) for k, v in obj.items()}
    return copy.deepcopy(obj)


class AttentionKind(str, Enum):
    GQA = "gqa"  # multi-head / grouped-query attention (MHA is GQA with kv_heads == heads)
    MLA = "mla"  # DeepSeek multi-head latent attention


class WindowKind(str, Enum):
    FULL = "full"
    SLIDING = "sliding"  # holds the last `window` tokens (Mistral, gpt-oss)
    CHUNKED = "chunked"  # attends within fixed chunks of `window` tokens (Llama 4)


class MixerKind(str, Enum):
    """What mixes tokens in a layer (DESIGN.md, Architectures of 2025-2026)."""

    ATTENTION = "attention"  # softmax attention (GQA/MLA; full, sliding or chunked)
    LINEAR_ATTENTION = "linear_attention"  # Gated DeltaNet (Qwen3-Next, Qwen3.5)
    MAMBA = "mamba"  # Mamba (v1) selective SSM (Jamba)
    MAMBA2 = "mamba2"  # Mamba2 SSD (Nemotron-H)
    NONE = "none"  # an FFN-only block (Nemotron-H MoE / MLP blocks)
    # LFM2 gated short convolution (Lfm2MoeShortConv): in_proj [hidden, 3 x hidden] -> B, C, x;
    # a depthwise causal conv over B x x (conv_L_cache taps), C gate, out_proj [hidden, hidden];
    # a RecurrentSpec of one head of width hidden, no SSM state (state_size 0): its state is the
    # conv window alone
    SHORT_CONV = "short_conv"


class QKNorm(str, Enum):
    NONE = "none"
    PER_HEAD = "per_head"  # RMSNorm over head_dim, shared by heads (Qwen3, GLM-4.5)
    FULL = "full"  # RMSNorm over all q and all k channels (OLMoE)


@dataclass(frozen=True)
class AttentionSpec:
    kind: AttentionKind
    num_heads: int
    num_kv_heads: int
    head_dim: int  # q/k width per head (MLA: qk_nope_head_dim + qk_rope_head_dim)
    v_head_dim: int
    qkv_bias: bool = False
    o_bias: bool = False
    qk_norm: QKNorm = QKNorm.NONE
    sinks: bool = False  # learned per-head attention sinks (gpt-oss)
    q_lora_rank: int | None = None  # MLA, or GQA with single_kv (V4); None = no query compression
    kv_lora_rank: int | None = None  # MLA only
    qk_rope_head_dim: int | None = None  # MLA only
    qk_nope_head_dim: int | None = None  # MLA only
    output_gate: bool = False  # Qwen3-Next gated attention: q_proj also emits a per-channel gate
    indexer: IndexerSpec | None = None  # DeepSeek-V3.2 / GLM-5 sparse-attention indexer
    # Beam: a per-head bias on the output gate (BeamAttention.gate_bias; attention component)
    gate_bias: bool = additive(False)
    # attends to an earlier layer's cache (Gemma4TextAttention / MistralLarge4TextAttention
    # is_kv_shared_layer): no key/value projections, no k norm (MLA: no kv_a_proj_with_mqa nor
    # kv_a_layernorm) and no cache of its own (attention component; cache.stored_kv_bytes)
    kv_shared: bool = additive(False)
    # Gemma4TextAttention attention_k_eq_v (full layers): no v_proj, V comes from the key
    # projection; the cache still holds K and V (attention component)
    k_eq_v: bool = additive(False)
    # MistralLarge4TextSoftmaxScaling on the queries: per-head scale and bias, 2 x heads
    # (attention component, active)
    log_scaling: bool = additive(False)
    # Dots3NoteTextAttention / BailingHybridAttention g_proj [hidden, heads], a sigmoid gate per
    # head (LagunaAttention per-head gating: softplus); attention component, active
    head_gate: bool = additive(False)
    # Dots3NoteTextAttention: k_rope_only_layernorm, RMSNorm over the MLA rope key (attention)
    rope_key_norm: bool = additive(False)
    # DeepseekV4Attention: one kv_proj [hidden, kv_heads x head_dim] read as both key and value
    # (cached once), with a weighted RMSNorm kv_norm [head_dim]; queries low-rank through
    # q_lora_rank (q_a_proj + q_a_norm + q_b_proj) when set on this GQA shape
    single_kv: bool = additive(False)
    # DeepseekV4Attention grouped low-rank output projection: o_a_proj (DeepseekV4GroupedLinear,
    # o_groups blocks [H x v_head_dim / o_groups, o_lora_rank]) then o_b_proj
    # [o_groups x o_lora_rank, hidden]; 0 = a plain o_proj
    o_groups: int = additive(0)
    o_lora_rank: int = additive(0)
    # DeepSeek-V4 CSA / HCA long-range KV compressor (frozen: additive's default is immutable)
    compressor: CompressorSpec | None = additive(None)  # noqa: RUF009


@dataclass(frozen=True)
class IndexerSpec:
    """DSA lightning indexer (DeepSeek-V3.2-Exp report sec. 2.1): its own small query heads and
    one cached key per token, which pick the top_k cached tokens each query attends to."""

    num_heads: int
    head_dim: int
    top_k: int
    key_dtype: str = "fp8"  # the indexer key cache: fp8 values + an fp32 scale per 128
    shared: bool = False  # GLM-MoE-DSA "shared" layers reuse the previous layer's top-k:
    # sparse attention without indexer weights or keys of their own
    # MistralLarge4TextIndexer: queries from the hidden state through a LayerNorm(hidden) with
    # bias and a per-head softmax scaling (scale + bias): 2 x hidden + 2 x heads more
    # (attention component, active)
    query_norm: bool = additive(False)
    # [hidden, heads] head weights; MiniMaxM3VLIndexer has none
    weights_proj: bool = additive(True)
    # Glm5NextTextIndexer k-pool: keys scored per pool of `kpool` tokens, pooled by a learned
    # gate, index_kpool_compress_ape [kpool, head_dim] and index_kpool_compress_gate
    # [head_dim, hidden] (attention); its cache packs key, gate logits and a validity flag per
    # token (2 x head_dim + 1 values, bf16). 0 = per-token DSA keys
    kpool: int = additive(0)
    # Qwen4ExpTextQSAIndexer: index_qk_proj [hidden, (heads + 1) x head_dim] and q/k RMSNorms of
    # head_dim (counted in attention); one raw key per token cached in the activation dtype (bf16)
    qsa: bool = additive(False)


@dataclass(frozen=True)
class CompressorSpec:
    """DeepSeek-V4 KV compressor beside a sliding-window attention (DeepseekV4HCACompressor,
    DeepseekV4CSACompressor): every `rate` tokens become one cached entry of head_dim, pooled
    by a softmax gate; CSA (`overlap`) projects two series (2 x head_dim) over overlapping
    windows and adds a Lightning Indexer (DeepseekV4Indexer) that compresses its own keys of
    index_head_dim at the same rate and picks index_topk entries per query (index_heads = 0:
    no indexer). Counted in attention; the entries are cache the sliding window does not cap."""

    rate: int
    head_dim: int
    overlap: bool = False
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0


@dataclass(frozen=True)
class RecurrentSpec:
    """A linear-attention or Mamba mixer: no per-token cache, a fixed state per sequence.

    Shapes are named as in the modeling code: Gated DeltaNet (Qwen3NextGatedDeltaNet) has
    num_heads value heads of head_dim, num_key_heads key heads of state_size; Mamba2
    (NemotronHMamba2Mixer) num_heads SSM heads of head_dim with n_groups B/C groups of
    state_size; Mamba v1 (JambaMambaMixer) one "head" of width d_inner, dt_rank, state_size.
    """

    kind: MixerKind
    num_heads: int
    head_dim: int
    state_size: int
    conv_kernel: int
    num_key_heads: int = 0  # Gated DeltaNet only
    n_groups: int = 1  # Mamba2 only
    dt_rank: int = 0  # Mamba v1 only
    conv_bias: bool = False
    proj_bias: bool = False
    inner_layernorms: bool = False  # Jamba: RMSNorms on dt, B and C
    # Kimi Delta Attention (KimiLinearDeltaAttention, BailingHybridDeltaAttention,
    # Glm5NextTextLinearAttention): a LINEAR_ATTENTION mixer with num_heads = num_key_heads
    # heads of head_dim = state_size, separate q/k/v projections, a per-channel forget gate and
    # an output gate (counted in attention, active; its state is GDN's: heads x head_dim x
    # head_dim, conv over q, k, v)
    kda: bool = additive(False)
    # KDA forget/output gates through a low-rank bottleneck of this width (KimiLinearForgetGate
    # f_a/f_b, g_a/g_b: linear_head_dim); 0 = full rank [hidden, heads x head_dim] (BailingHybrid)
    gate_rank: int = additive(0)
    # KimiDeltaAttention with linear_attn_config use_full_rank_gate (Kimi-K3): the output gate is
    # one g_proj [hidden, heads x head_dim]; the forget gate keeps its f_a/f_b of gate_rank
    full_rank_output_gate: bool = additive(False)
    # MiniMax lightning attention (MiniMaxLightningAttention, MiniMax-Text-01 / M1): a
    # LINEAR_ATTENTION mixer of num_heads = num_key_heads heads of head_dim = state_size, a fused
    # qkv_proj, a sigmoid output gate, an RMSNorm over all heads and out_proj; no conv
    # (conv_kernel 0). Its state per head is head_dim x head_dim, as GDN's (counted in
    # attention, active)
    lightning: bool = additive(False)

    @property
    def inner_size(self) -> int:
        """Width of the mixer's value/SSM channels (d_inner)."""
        return self.num_heads * self.head_dim

    @property
    def conv_channels(self) -> int:
        """Channels of the causal conv1d: GDN q, k and v; Mamba2 x, B and C; Mamba x."""
        if self.kind is MixerKind.LINEAR_ATTENTION:
            return 2 * self.num_key_heads * self.state_size + self.inner_size
        if self.kind is MixerKind.MAMBA2:
            return self.inner_size + 2 * self.n_groups * self.state_size
        return self.inner_size
