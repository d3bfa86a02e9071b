"""Parameter counts per component, from the architecture alone.

Every function counts the weights of one module as its modeling code allocates them (shapes in
the docstrings); totals are sums of these functions. "Active" counts the parameters a token is
multiplied with: the input embedding is a row lookup and is left out, the LM head is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from moeplan.model.mixer_params import attention_params, recurrent_params
from moeplan.model.specs import (
    LayerSpec,
    MixerKind,
    ModelSpec,
    MoESpec,
)

# Components, in display order. Each is a key of ParamCounts.breakdown.
COMPONENTS = (
    "embedding",
    "lm_head",
    "attention",
    "dense_ffn",
    "routed_experts",
    "shared_experts",
    "router",
    "norms",
    "mtp",
)


def embedding_params(spec: ModelSpec) -> int:
    """Input embedding table: vocab_size x hidden_size, plus Gemma 4's per-layer embedding table
    per_layer_input_vocab x (layers x per_layer_input_size) and Qwen4-Exp's n-gram tables
    (ngram_table_params) (lookups too)."""
    ple = spec.per_layer_input_vocab * spec.num_layers * spec.per_layer_input_size
    return spec.vocab_size * spec.hidden_size + ple + ngram_table_params(spec)


def ngram_table_params(spec: ModelSpec) -> int:
    """Qwen4-Exp PLE tables (Qwen4ExpTextNGramEmbedding.ngram_embedding): per PLE layer its
    padded rows x ple_embed_dim / n-gram heads; none without PLE."""
    ple = spec.ngram_ple
    return sum(ple.table_rows) * ple.row_width if ple else 0


def per_layer_input_params(spec: ModelSpec) -> int:
    """Gemma 4 per-layer inputs beside the table (Gemma4TextModel, Gemma4TextDecoderLayer):
    per_layer_model_projection [hidden, layers x size], and per layer per_layer_input_gate
    [hidden, size] + per_layer_projection [size, hidden] (counted in dense_ffn); Qwen4-Exp's
    PLE layers beside their tables (ngram_ple_dense_params)."""
    gemma = 3 * spec.num_layers * spec.hidden_size * spec.per_layer_input_size
    return gemma + ngram_ple_dense_params(spec)


def ngram_ple_dense_params(spec: ModelSpec) -> int:
    """Qwen4ExpTextPLELayer beside the table, per PLE layer: key_proj [embed, hc x hidden],
    value_proj [embed, hidden] and the depthwise conv1d [hc x hidden, 1, ple_conv_kernel_size]
    (no bias); its norm_key / norm_query / norm_conv are in norm_params."""
    ple = spec.ngram_ple
    if ple is None:
        return 0
    wide = spec.hc_count * spec.hidden_size
    layer = ple.embed_dim * (wide + spec.hidden_size) + wide * ple.conv_kernel
    return len(ple.layer_ids) * layer


def lm_head_params(spec: ModelSpec) -> int:
    """Output projection hidden_size x vocab_size (+ vocab bias, Phi-3.5-MoE); 0 when tied."""
    if spec.tie_word_embeddings:
        return 0
    return spec.vocab_size * spec.hidden_size + (spec.vocab_size if spec.lm_head_bias else 0)


def mixer_params(spec: ModelSpec, layer: LayerSpec) -> int:
    """The token mixer of one layer: attention, a recurrent mixer, or none."""
    if layer.recurrent is not None:
        return recurrent_params(layer.recurrent, spec.hidden_size)
    if layer.mixer is MixerKind.NONE:
        return 0
    return attention_params(spec.layer_attention(layer), spec.hidden_size)


def ffn_params(hidden: int, width: int, gated: bool = True, bias: bool = False) -> int:
    """One feed-forward block: gated (SwiGLU) = gate + up [hidden, width] and down [width, hidden];
    plain = up + down. Biases: one per output channel."""
    matrices = 3 if gated else 2
    count = matrices * hidden * width
    if bias:
        count += (matrices - 1) * width + hidden
    return count


def expert_params(spec: ModelSpec) -> int:
    """One routed expert (gpt-oss experts carry biases); a latent MoE's experts take the
    latent width instead of hidden (NemotronHExperts)."""
    moe = _moe(spec)
    width = moe.latent_size or spec.hidden_size
    return ffn_params(width, moe.expert_intermediate_size, spec.ffn_gated, moe.expert_bias)


def shared_experts_params(spec: ModelSpec) -> int:
    """All always-on weights of one MoE layer beside the router: shared experts, Qwen2-MoE's
    shared-expert gate [hidden, 1], and a latent MoE's fc1/fc2 latent projections
    [hidden, latent] and [latent, hidden] (NemotronHMoE), with latent_norms RMSNorms of the
    latent width (MuseSparkMoE)."""
    moe = _moe(spec)
    count = moe.num_shared_experts * ffn_params(
        spec.hidden_size, moe.shared_intermediate_size, spec.ffn_gated
    )
    latent = 2 * spec.hidden_size * moe.latent_size if moe.latent_size else 0
    if moe.latent_size:  # MuseSparkMoE: RMSNorms on the latent width
        latent += moe.latent_norms * moe.latent_size
    return count + (spec.hidden_size if moe.shared_expert_gate else 0) + latent


def router_params(spec: ModelSpec) -> int:
    """Router of one MoE layer: [hidden, n_experts] (+ bias, + DeepSeek-V3 score correction);
    zero-computation experts are routed too (LongcatFlashTopkRouter: n_routed + zero);
    Gemma4TextRouter adds an input scale [hidden] and per_expert_scale [n]."""
    moe = _moe(spec)
    n = moe.num_experts + moe.num_zero_experts
    extra = (n if moe.router_bias else 0) + (n if moe.router_score_bias else 0)
    extra += spec.hidden_size + n if moe.router_scales else 0
    return spec.hidden_size * n + extra


def norm_params(spec: ModelSpec) -> int:
    """RMSNorm weights (LayerNorm adds a bias): norms_per_layer per layer, moe_layer_norms more
    in each MoE layer, plus the final norm (and Gemma 4's per_layer_projection_norm
    [per_layer_input_size]), the hyper-connection weights (hyper_connection_params; Qwen4-Exp's
    gated residual streams, hc_count, replace the final norm; its PLE layers' three RMSNorms
    [hc x hidden]) and Kimi-K3's attention residuals
    (attention_residual_params)."""
    per_norm = spec.hidden_size * (2 if spec.norm_has_bias else 1)
    if spec.hc_count:  # Qwen4ExpTextGatedResidual x 2 per layer; the mixer replaces the norm
        wide = spec.hc_count * spec.hidden_size
        mixer = _gated_residual(spec, inject=False)
        layer = 2 * _gated_residual(spec, inject=True)
        ple = 3 * wide * len(spec.ngram_ple.layer_ids) if spec.ngram_ple else 0  # PLE norms
        count = per_norm * spec.norms_per_layer * spec.num_layers + layer * spec.num_layers
        return count + mixer + ple
    count = spec.norms_per_layer * spec.num_layers + spec.moe_layer_norms * spec.num_moe_layers
    extra = hyper_connection_params(spec) + attention_residual_params(spec)
    return per_norm * (count + 1) + spec.per_layer_input_size + extra


def attention_residual_params(spec: ModelSpec) -> int:
    """Attention Residuals (Kimi-K3, modeling_kimi_linear.py KimiDecoderLayer and
    KimiLinearModel): per layer self_attention_res_norm and mlp_res_norm RMSNorm [hidden] and
    the pseudo-queries self_attention_res_proj and mlp_res_proj [1, hidden]; after the last
    layer output_attn_res_norm [hidden] and output_attn_res_proj [1, hidden]. None without."""
    if not spec.attn_res_block_size:
        return 0
    return 4 * spec.hidden_size * spec.num_layers + 2 * spec.hidden_size


def hyper_connection_params(spec: ModelSpec) -> int:
    """HYV4HyperConnection, two per layer (attn_hc, ffn_hc): fn [hc_mixes, hc_mult x hidden],
    base [hc_mixes], hc_scales scalars; HYV4HyperHead: hc_fn [hc_mult, hc_mult x hidden],
    hc_base [hc_mult], hc_scale [1]. None without hyper-connections (hc_mult 1).
    DeepseekV4HyperConnection / Glm5NextTextHyperConnection have the same shapes (hc_mixes
    (2 + n) x n, 3 scales); Glm5NextTextHyperHead is a mean without weights (hc_mean_head)."""
    if spec.hc_mult <= 1:
        return 0
    width = spec.hc_mult * spec.hidden_size
    per_layer = 2 * (spec.hc_mixes * width + spec.hc_mixes + spec.hc_scales)
    head = 0 if spec.hc_mean_head else spec.hc_mult * width + spec.hc_mult + 1
    return spec.num_layers * per_layer + head


def mtp_layer_params(spec: ModelSpec) -> int:
    """One DeepSeek-V3 multi-token-prediction module (tech report sec. 2.2): enorm + hnorm,
    eh_proj [2*hidden, hidden], one decoder layer like the last one, and its output norm; the
    embedding and output head are shared with the main model. Nemotron-H's MTP step is its
    mtp_blocks instead of that layer (vLLM NemotronHMultiTokenPredictor: for "*E" an attention
    block and a MoE block, a norm each), with the same enorm, hnorm, eh_proj and final norm."""
    h = spec.hidden_size
    if spec.mtp_blocks:
        layer = sum(
            mixer_params(spec, b) + ffn_block_params(spec, b) + spec.norms_per_layer * h
            for b in spec.mtp_blocks
        )
    else:
        last = next((x for x in reversed(spec.layers) if x.ffn != "none"), spec.layers[-1])
        layer = attention_params(spec.attention, h) + spec.norms_per_layer * h
        layer += ffn_block_params(spec, LayerSpec("moe" if last.is_moe else "dense"))
    return layer + 2 * h * h + 3 * h


def mtp_params(spec: ModelSpec) -> int:
    """All MTP layers, and the MTP module's own token embedding where it has one
    (mtp_embedding: dots3-note's model.mtp.embed_tokens [vocab, hidden]); Qwen4-Exp's
    hyper-connected head per hc_mtp_params."""
    if not spec.mtp_layers:
        return 0
    own = spec.vocab_size * spec.hidden_size if spec.mtp_embedding else 0
    if spec.hc_count:
        return hc_mtp_params(spec) + own
    return spec.mtp_layers * mtp_layer_params(spec) + own


def _gated_residual(spec: ModelSpec, inject: bool) -> int:
    """Qwen4ExpTextGatedResidual: hc_norm [hc x hidden], input_mix_weight_down [hc x hidden,
    hc_lowrank], input_mix_weight_up [hc_lowrank, hc x hidden], block_inject_weight
    [hc x hidden, hc] with use_combine (the final mixer has none)."""
    wide = spec.hc_count * spec.hidden_size
    return wide + 2 * wide * spec.hc_lowrank + (wide * spec.hc_count if inject else 0)


def hc_mtp_params(spec: ModelSpec) -> int:
    """Qwen4-Exp's MTP head (readers2026/qwen4_mtp.py for the sources: vLLM
    Qwen4ExpMultiTokenPredictor, SGLang Qwen4ExpForCausalLMMTP): once fc_embedding and
    fc_hidden [hidden, hidden], pre_fc_norm_embedding [hidden], pre_fc_norm_hidden
    [hc x hidden] and the final hyper_connection_mixer (no inject weight, no mtp.norm); per
    MTP layer a full-attention (QSA) Qwen4ExpDecoderLayer: attention with its indexer, the
    sparse MoE block (every expert, the gated shared expert, the router) and two gated
    residuals with block_inject_weight."""
    h = spec.hidden_size
    layer = attention_params(spec.attention, h) + ffn_block_params(spec, LayerSpec("moe"))
    layer += 2 * _gated_residual(spec, inject=True)
    glue = 2 * h * h + h + spec.hc_count * h + _gated_residual(spec, inject=False)
    return glue + spec.mtp_layers * layer


def ffn_block_params(spec: ModelSpec, layer: LayerSpec) -> int:
    """The FFN block of one layer as MTP builds it: every routed expert, the shared experts and
    the router of a MoE block, or a dense FFN; none for a mixer-only block."""
    count = 0
    if layer.is_moe:
        moe = _moe(spec)
        count += moe.num_experts * expert_params(spec) + shared_experts_params(spec)
        count += router_params(spec)
    if layer.has_dense_ffn:
        count += ffn_params(
            spec.hidden_size, spec.dense_intermediate_size, spec.ffn_gated, spec.mlp_bias
        )
    return count


def _moe(spec: ModelSpec) -> MoESpec:
    if spec.moe is None:
        raise ValueError(f"{spec.name} has no MoE layers")
    return spec.moe


@dataclass(frozen=True)
class ParamCounts:
    """Totals and per-component breakdowns, integers."""

    total: int  # main model, without MTP layers and without vision/audio towers
    active: int  # per token, without the input embedding (expected value with zero experts)
    breakdown: dict[str, int]  # sums to total + mtp
    active_breakdown: dict[str, int]  # sums to active (+ the embedding row, shown as 0)
    # zero-computation experts: active with none / all of the top-k on real experts
    active_min: int | None = None
    active_max: int | None = None
    towers: dict[str, int] = field(default_factory=dict)  # counted vision/audio towers
    # tables of "embedding" beside the token embedding that no convention counts as active
    # (Qwen4-Exp's n-gram PLE tables: ngram_table_params)
    lookup_tables: int = 0

    @property
    def towers_total(self) -> int:
        return sum(self.towers.values())

    @property
    def active_range(self) -> tuple[int, int] | None:
        if self.active_min is None or self.active_max is None:
            return None
        return self.active_min, self.active_max

    @property
    def total_with_mtp(self) -> int:
        return self.total + self.breakdown["mtp"]

    @property
    def active_with_embedding(self) -> int:
        tied = self.breakdown["lm_head"] == 0  # the one table is already counted as the head
        return self.active + (0 if tied else self.breakdown["embedding"] - self.lookup_tables)

    @property
    def active_without_embeddings(self) -> int:
        """Neither the input embedding nor the LM head (a convention some publishers use)."""
        return self.active - self.active_breakdown["lm_head"]


@lru_cache(maxsize=64)
def count_params(spec: ModelSpec) -> ParamCounts:
    """All components of a spec, total and active per token (cached: specs are frozen).
    "attention" holds every token mixer: attention, linear attention and Mamba."""
    attention = sum(mixer_params(spec, layer) for layer in spec.layers)
    dense = sum(
        ffn_params(
            spec.hidden_size,
            spec.dense_intermediate_size * layer.dense_width_factor,
            spec.ffn_gated,
            spec.mlp_bias,
        )
        for layer in spec.layers
        if layer.has_dense_ffn
    ) + per_layer_input_params(spec)
    n_moe = spec.num_moe_layers
    routed = shared = router = router_vision = 0
    routed_active = routed_min = routed_max = 0.0
    if spec.is_moe:
        moe = _moe(spec)
        per_expert = expert_params(spec)
        routed = n_moe * moe.num_experts * per_expert
        routed_active = n_moe * moe.expected_real_experts * per_expert
        routed_max = n_moe * moe.top_k * per_expert
        routed_min = n_moe * max(0, moe.top_k - moe.num_zero_experts) * per_expert
        shared = n_moe * shared_experts_params(spec)
        router = n_moe * router_params(spec)
        if moe.vision_expert_intermediate_size:  # Ernie4_5_VLMoeMoeBlock: text tokens skip it
            vision = ffn_params(spec.hidden_size, moe.vision_expert_intermediate_size)
            routed += n_moe * moe.num_experts * vision
            router_vision = n_moe * router_params(spec)
        if moe.router_score_bias:  # DeepseekV4HashRouter layers hold no correction bias
            router -= sum(1 for x in spec.layers if x.is_moe and x.hash_router) * moe.num_experts
    breakdown = {
        "embedding": embedding_params(spec),
        "lm_head": lm_head_params(spec),
        "attention": attention,
        "dense_ffn": dense,
        "routed_experts": routed,
        "shared_experts": shared,
        "router": router + router_vision,
        "norms": norm_params(spec),
        "mtp": mtp_params(spec),
    }
    # Tied embeddings: the one table is also the output projection, multiplied with every token.
    # (the main table only: Gemma 4's per-layer table is a lookup, never the head)
    head_active = breakdown["lm_head"] or spec.vocab_size * spec.hidden_size
    active_breakdown = {
        **breakdown,
        "embedding": 0,
        "lm_head": head_active,
        "routed_experts": round(routed_active),
        "router": router,
        "mtp": 0,
    }
    total = sum(v for k, v in breakdown.items() if k != "mtp")
    active = sum(active_breakdown.values())
    low = high = None
    if spec.moe is not None and spec.moe.num_zero_experts:
        rest = active - active_breakdown["routed_experts"]
        low, high = rest + round(routed_min), rest + round(routed_max)
    towers = {t.name: t.params for t in spec.towers if t.params is not None}
    tables = ngram_table_params(spec)
    return ParamCounts(total, active, breakdown, active_breakdown, low, high, towers, tables)
