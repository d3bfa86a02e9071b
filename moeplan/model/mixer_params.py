"""Weights of the token mixers, counted as their modeling code allocates them: attention (GQA,
MLA, DeepSeek-V4 single-KV attention with its compressors), the DSA / QSA indexers, linear
attention, Mamba, Kimi Delta Attention and short convolutions (shapes in each docstring;
``params.count_params`` sums them into the "attention" component)."""

from __future__ import annotations

from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    CompressorSpec,
    IndexerSpec,
    MixerKind,
    QKNorm,
    RecurrentSpec,
)


def attention_params(attn: AttentionSpec, hidden: int) -> int:
    """One attention block.

    GQA: q [hidden, H*d], k [hidden, KV*d], v [hidden, KV*dv], o [H*dv, hidden], optional
    biases, qk-norm weights, per-head sinks, an output gate [hidden, H*dv] (+ a bias per head,
    BeamAttention); a KV-shared layer (kv_shared) has only q and o (and the q norm), a k_eq_v
    layer no v; log_scaling adds a per-head scale and bias.
    MLA (DeepSeek-V2 paper sec. 2.1.2): q_a [hidden, q_lora] + norm + q_b [q_lora, H*(nope+rope)]
    (or q [hidden, H*(nope+rope)] without q_lora), kv_a [hidden, kv_lora + rope] + norm,
    kv_b [kv_lora, H*(nope + v)], o [H*v, hidden].
    """
    h, kv = attn.num_heads, attn.num_kv_heads
    extra = indexer_params(attn.indexer, hidden, attn.q_lora_rank) if attn.indexer else 0
    extra += 2 * h if attn.log_scaling else 0
    # Dots3NoteTextAttention: per-head gate g_proj [hidden, heads], RMSNorm on the rope key
    extra += (hidden * h if attn.head_gate else 0) + (
        (attn.qk_rope_head_dim or 0) if attn.rope_key_norm else 0
    )
    if attn.kind is AttentionKind.MLA:
        assert attn.kv_lora_rank is not None and attn.qk_rope_head_dim is not None
        assert attn.qk_nope_head_dim is not None
        q_out = h * (attn.qk_nope_head_dim + attn.qk_rope_head_dim)
        if attn.q_lora_rank:
            q = hidden * attn.q_lora_rank + attn.q_lora_rank + attn.q_lora_rank * q_out
        else:
            q = hidden * q_out
        kv_a = hidden * (attn.kv_lora_rank + attn.qk_rope_head_dim) + attn.kv_lora_rank
        kv_a = 0 if attn.kv_shared else kv_a
        kv_b = attn.kv_lora_rank * h * (attn.qk_nope_head_dim + attn.v_head_dim)
        o = h * attn.v_head_dim * hidden
        # HYV4Attention: gate_proj [hidden, H x v_head_dim] and per-head sinks beside MLA
        gate = hidden * h * attn.v_head_dim if attn.output_gate else 0
        sinks = h if attn.sinks else 0
        return q + kv_a + kv_b + o + (hidden if attn.o_bias else 0) + gate + sinks + extra
    if attn.single_kv:
        return single_kv_attention_params(attn, hidden) + extra
    q_width, k_width, v_width = h * attn.head_dim, kv * attn.head_dim, kv * attn.v_head_dim
    if attn.kv_shared:
        k_width = v_width = 0
    if attn.k_eq_v:
        v_width = 0
    # Qwen3-Next gated attention: q_proj emits queries and a gate per output channel
    gate_width = h * attn.v_head_dim if attn.output_gate else 0
    count = hidden * (q_width + gate_width + k_width + v_width) + h * attn.v_head_dim * hidden
    if attn.qkv_bias:
        count += q_width + k_width + v_width
    if attn.o_bias:
        count += hidden
    if attn.qk_norm is QKNorm.PER_HEAD:
        count += attn.head_dim if attn.kv_shared else 2 * attn.head_dim
    elif attn.qk_norm is QKNorm.FULL:
        count += q_width + k_width
    if attn.sinks:
        count += h
    if attn.output_gate and attn.gate_bias:
        count += h
    return count + extra


def single_kv_attention_params(attn: AttentionSpec, hidden: int) -> int:
    """DeepseekV4Attention: q_a [hidden, q_lora] + q_a_norm [q_lora] + q_b [q_lora, H*d] (or q
    [hidden, H*d]); kv_proj [hidden, KV*d] read as key and value + kv_norm [d]; output
    o_a (o_groups blocks [H*dv/g, o_lora], i.e. [g*o_lora, H*dv/g]) + o_b [g*o_lora, hidden]
    (or o [H*dv, hidden]); per-head sinks; the compressor of a CSA/HCA layer."""
    h, d = attn.num_heads, attn.head_dim
    q_lora = attn.q_lora_rank
    q = hidden * q_lora + q_lora + q_lora * h * d if q_lora else hidden * h * d
    kv = hidden * attn.num_kv_heads * d + d
    if attn.o_groups:
        g, r = attn.o_groups, attn.o_lora_rank
        o = g * r * (h * attn.v_head_dim // g) + g * r * hidden
    else:
        o = h * attn.v_head_dim * hidden
    sinks = h if attn.sinks else 0
    comp = compressor_params(attn.compressor, hidden, q_lora) if attn.compressor else 0
    return q + kv + o + sinks + comp


def compressor_params(c: CompressorSpec, hidden: int, q_lora_rank: int | None) -> int:
    """DeepSeek-V4 KV compressor (DeepseekV4HCACompressor / DeepseekV4CSACompressor): kv_proj
    and gate_proj [hidden, s x head_dim], position_bias [rate, s x head_dim] and kv_norm
    [head_dim], s = 2 series when the windows overlap (CSA) else 1. CSA's DeepseekV4Indexer:
    the same four at index_head_dim (two series), q_b_proj [q_lora_rank, heads x
    index_head_dim] and scorer.weights_proj [hidden, heads]."""
    series = 2 if c.overlap else 1

    def pooled(d: int) -> int:
        return 2 * hidden * series * d + c.rate * series * d + d

    count = pooled(c.head_dim)
    if c.index_heads:
        di = c.index_head_dim
        count += pooled(di) + (q_lora_rank or hidden) * c.index_heads * di
        count += hidden * c.index_heads
    return count


def indexer_params(ix: IndexerSpec, hidden: int, q_lora_rank: int | None) -> int:
    """DSA lightning indexer (DeepSeek-V3.2 inference/model.py Indexer; GLM-5 the same):
    wq_b [q_lora_rank, heads x head_dim] (from the MLA query latent; [hidden, ...] without
    one), wk [hidden, head_dim], k_norm LayerNorm(head_dim) with bias, weights_proj
    [hidden, heads]. MiniMaxM3VLIndexer: q_proj [hidden, heads x head_dim], k_proj [hidden,
    head_dim], q_norm and k_norm RMSNorm(head_dim), no weights_proj."""
    if ix.shared:
        return 0
    if ix.qsa:  # Qwen4ExpTextQSAIndexer: fused q + one key head, q/k RMSNorm
        return hidden * (ix.num_heads + 1) * ix.head_dim + 2 * ix.head_dim
    q_in = q_lora_rank or hidden
    query_norm = 2 * hidden + 2 * ix.num_heads if ix.query_norm else 0
    kpool = ix.kpool * ix.head_dim + ix.head_dim * hidden if ix.kpool else 0  # Glm5NextTextIndexer
    return (
        q_in * ix.num_heads * ix.head_dim
        + hidden * ix.head_dim
        + 2 * ix.head_dim
        + (hidden * ix.num_heads if ix.weights_proj else 0)
        + query_norm
        + kpool
    )


def recurrent_params(r: RecurrentSpec, hidden: int) -> int:
    """One linear-attention or Mamba mixer, as its modeling code allocates it.

    Gated DeltaNet (transformers Qwen3NextGatedDeltaNet): in_proj_qkvz [hidden, 2 x key_dim +
    2 x value_dim], in_proj_ba [hidden, 2 x v_heads], conv1d [conv_channels, kernel] without
    bias, dt_bias and A_log [v_heads], gated RMSNorm [head_v_dim], out_proj [value_dim, hidden].
    Mamba2 (NemotronHMamba2Mixer): in_proj [hidden, 2 x d_inner + 2 x groups x d_state +
    heads], conv1d [conv_channels, kernel] + bias, dt_bias, A_log, D [heads], gated RMSNorm
    [d_inner], out_proj [d_inner, hidden].
    Mamba v1 (JambaMambaMixer): in_proj [hidden, 2 x d_inner], conv1d [d_inner, kernel] + bias,
    x_proj [d_inner, dt_rank + 2 x d_state], dt_proj [dt_rank, d_inner] + bias, A_log
    [d_inner, d_state], D [d_inner], out_proj [d_inner, hidden]; Jamba adds RMSNorms on dt, B
    and C."""
    inner = r.inner_size
    conv = r.conv_channels * r.conv_kernel + (r.conv_channels if r.conv_bias else 0)
    if r.kda:
        return kda_params(r, hidden)
    if r.lightning:
        return lightning_params(r, hidden)
    if r.kind is MixerKind.SHORT_CONV:  # Lfm2MoeShortConv: in_proj [h, 3h], conv, out_proj [h, h]
        bias = 4 * inner if r.proj_bias else 0
        return 3 * hidden * inner + conv + inner * hidden + bias
    if r.kind is MixerKind.LINEAR_ATTENTION:
        key_dim = r.num_key_heads * r.state_size
        in_proj = hidden * (2 * key_dim + 2 * inner) + hidden * 2 * r.num_heads
        return in_proj + conv + 2 * r.num_heads + r.head_dim + inner * hidden
    if r.kind is MixerKind.MAMBA2:
        in_width = 2 * inner + 2 * r.n_groups * r.state_size + r.num_heads
        in_proj = hidden * in_width + (in_width if r.proj_bias else 0)
        out_proj = inner * hidden + (hidden if r.proj_bias else 0)
        return in_proj + conv + 3 * r.num_heads + inner + out_proj
    in_proj = hidden * 2 * inner + (2 * inner if r.proj_bias else 0)
    x_proj = inner * (r.dt_rank + 2 * r.state_size)
    dt_proj = r.dt_rank * inner + inner
    norms = (r.dt_rank + 2 * r.state_size) if r.inner_layernorms else 0
    out_proj = inner * hidden + (hidden if r.proj_bias else 0)
    return in_proj + conv + x_proj + dt_proj + inner * r.state_size + inner + norms + out_proj


def lightning_params(r: RecurrentSpec, hidden: int) -> int:
    """MiniMax lightning attention (transformers MiniMaxLightningAttention; MiniMax-Text-01's
    MiniMaxText01LightningAttention the same): qkv_proj [hidden, 3 x D] and output_gate
    [hidden, D] and out_proj [D, hidden], all without bias (D = heads x head_dim), and an
    RMSNorm [D] on the attention output."""
    d = r.inner_size
    return 3 * hidden * d + hidden * d + d * hidden + d


def kda_params(r: RecurrentSpec, hidden: int) -> int:
    """Kimi Delta Attention (transformers KimiLinearDeltaAttention, BailingHybridDeltaAttention,
    Glm5NextTextLinearAttention): q/k/v [hidden, D] each (D = heads x head_dim), conv1d [3D,
    kernel] without bias, forget gate f [hidden, D] (Kimi: f_a [hidden, rank] + f_b [rank, D]) +
    dt_bias [D] + A_log [heads], b_proj [hidden, heads], output gate g like f (Kimi-K3
    use_full_rank_gate: g_proj [hidden, D]), gated RMSNorm [head_dim], o_proj [D, hidden]."""
    d = r.inner_size
    gate = r.gate_rank * (hidden + d) if r.gate_rank else hidden * d
    out_gate = hidden * d if r.full_rank_output_gate else gate
    conv = r.conv_channels * r.conv_kernel + (r.conv_channels if r.conv_bias else 0)
    qkvo = 4 * hidden * d
    return qkvo + conv + gate + out_gate + d + r.num_heads + hidden * r.num_heads + r.head_dim
