"""Parameter counts per component, from the architecture alone.

Every function counts the weights of one module as its modeling code allocates them (shapes in
the docstrings); totals are sums of these functions. "Active" counts the parameters a token is
multiplied with: the input embedding is a row lookup and is left out, the LM head is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from moeplan.model.specs import AttentionKind, AttentionSpec, ModelSpec, MoESpec, QKNorm

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
    """Input embedding table: vocab_size x hidden_size."""
    return spec.vocab_size * spec.hidden_size


def lm_head_params(spec: ModelSpec) -> int:
    """Output projection hidden_size x vocab_size (+ vocab bias, Phi-3.5-MoE); 0 when tied."""
    if spec.tie_word_embeddings:
        return 0
    return spec.vocab_size * spec.hidden_size + (spec.vocab_size if spec.lm_head_bias else 0)


def attention_params(attn: AttentionSpec, hidden: int) -> int:
    """One attention block.

    GQA: q [hidden, H*d], k [hidden, KV*d], v [hidden, KV*dv], o [H*dv, hidden], optional
    biases, qk-norm weights and per-head sinks.
    MLA (DeepSeek-V2 paper sec. 2.1.2): q_a [hidden, q_lora] + norm + q_b [q_lora, H*(nope+rope)]
    (or q [hidden, H*(nope+rope)] without q_lora), kv_a [hidden, kv_lora + rope] + norm,
    kv_b [kv_lora, H*(nope + v)], o [H*v, hidden].
    """
    h, kv = attn.num_heads, attn.num_kv_heads
    if attn.kind is AttentionKind.MLA:
        assert attn.kv_lora_rank is not None and attn.qk_rope_head_dim is not None
        assert attn.qk_nope_head_dim is not None
        q_out = h * (attn.qk_nope_head_dim + attn.qk_rope_head_dim)
        if attn.q_lora_rank:
            q = hidden * attn.q_lora_rank + attn.q_lora_rank + attn.q_lora_rank * q_out
        else:
            q = hidden * q_out
        kv_a = hidden * (attn.kv_lora_rank + attn.qk_rope_head_dim) + attn.kv_lora_rank
        kv_b = attn.kv_lora_rank * h * (attn.qk_nope_head_dim + attn.v_head_dim)
        o = h * attn.v_head_dim * hidden
        return q + kv_a + kv_b + o + (hidden if attn.o_bias else 0)
    q_width, k_width, v_width = h * attn.head_dim, kv * attn.head_dim, kv * attn.v_head_dim
    count = hidden * (q_width + k_width + v_width) + h * attn.v_head_dim * hidden
    if attn.qkv_bias:
        count += q_width + k_width + v_width
    if attn.o_bias:
        count += hidden
    if attn.qk_norm is QKNorm.PER_HEAD:
        count += 2 * attn.head_dim
    elif attn.qk_norm is QKNorm.FULL:
        count += q_width + k_width
    if attn.sinks:
        count += h
    return count


def ffn_params(hidden: int, width: int, gated: bool = True, bias: bool = False) -> int:
    """One feed-forward block: gated (SwiGLU) = gate + up [hidden, width] and down [width, hidden];
    plain = up + down. Biases: one per output channel."""
    matrices = 3 if gated else 2
    count = matrices * hidden * width
    if bias:
        count += (matrices - 1) * width + hidden
    return count


def expert_params(spec: ModelSpec) -> int:
    """One routed expert (gpt-oss experts carry biases)."""
    moe = _moe(spec)
    return ffn_params(
        spec.hidden_size, moe.expert_intermediate_size, spec.ffn_gated, moe.expert_bias
    )


def shared_experts_params(spec: ModelSpec) -> int:
    """All always-on experts of one MoE layer, plus Qwen2-MoE's shared-expert gate [hidden, 1]."""
    moe = _moe(spec)
    count = moe.num_shared_experts * ffn_params(
        spec.hidden_size, moe.shared_intermediate_size, spec.ffn_gated
    )
    return count + (spec.hidden_size if moe.shared_expert_gate else 0)


def router_params(spec: ModelSpec) -> int:
    """Router of one MoE layer: [hidden, n_experts] (+ bias, + DeepSeek-V3 score correction)."""
    moe = _moe(spec)
    extra = (moe.num_experts if moe.router_bias else 0) + (
        moe.num_experts if moe.router_score_bias else 0
    )
    return spec.hidden_size * moe.num_experts + extra


def norm_params(spec: ModelSpec) -> int:
    """RMSNorm weights (LayerNorm adds a bias): norms_per_layer per layer plus the final norm."""
    per_norm = spec.hidden_size * (2 if spec.norm_has_bias else 1)
    return per_norm * (spec.norms_per_layer * spec.num_layers + 1)


def mtp_layer_params(spec: ModelSpec) -> int:
    """One DeepSeek-V3 multi-token-prediction module (tech report sec. 2.2): enorm + hnorm,
    eh_proj [2*hidden, hidden], one decoder layer like the last one, and its output norm; the
    embedding and output head are shared with the main model."""
    layer = (
        attention_params(spec.attention, spec.hidden_size) + spec.norms_per_layer * spec.hidden_size
    )
    last = spec.layers[-1]
    if last.is_moe:
        moe = _moe(spec)
        layer += (
            moe.num_experts * expert_params(spec)
            + shared_experts_params(spec)
            + router_params(spec)
        )
    else:
        layer += ffn_params(
            spec.hidden_size, spec.dense_intermediate_size, spec.ffn_gated, spec.mlp_bias
        )
    return layer + 2 * spec.hidden_size * spec.hidden_size + 3 * spec.hidden_size


def _moe(spec: ModelSpec) -> MoESpec:
    if spec.moe is None:
        raise ValueError(f"{spec.name} has no MoE layers")
    return spec.moe


@dataclass(frozen=True)
class ParamCounts:
    """Totals and per-component breakdowns, integers."""

    total: int  # main model, without MTP layers
    active: int  # per token, without the input embedding
    breakdown: dict[str, int]  # sums to total + mtp
    active_breakdown: dict[str, int]  # sums to active (+ the embedding row, shown as 0)

    @property
    def total_with_mtp(self) -> int:
        return self.total + self.breakdown["mtp"]

    @property
    def active_with_embedding(self) -> int:
        tied = self.breakdown["lm_head"] == 0  # the one table is already counted as the head
        return self.active + (0 if tied else self.breakdown["embedding"])

    @property
    def active_without_embeddings(self) -> int:
        """Neither the input embedding nor the LM head (a convention some publishers use)."""
        return self.active - self.active_breakdown["lm_head"]


@lru_cache(maxsize=64)
def count_params(spec: ModelSpec) -> ParamCounts:
    """All components of a spec, total and active per token (cached: specs are frozen)."""
    attention = spec.num_layers * attention_params(spec.attention, spec.hidden_size)
    dense = spec.num_dense_layers * ffn_params(
        spec.hidden_size, spec.dense_intermediate_size, spec.ffn_gated, spec.mlp_bias
    )
    n_moe = spec.num_moe_layers
    routed = shared = router = routed_active = 0
    if spec.is_moe:
        moe = _moe(spec)
        per_expert = expert_params(spec)
        routed = n_moe * moe.num_experts * per_expert
        routed_active = n_moe * moe.top_k * per_expert
        shared = n_moe * shared_experts_params(spec)
        router = n_moe * router_params(spec)
    breakdown = {
        "embedding": embedding_params(spec),
        "lm_head": lm_head_params(spec),
        "attention": attention,
        "dense_ffn": dense,
        "routed_experts": routed,
        "shared_experts": shared,
        "router": router,
        "norms": norm_params(spec),
        "mtp": spec.mtp_layers * mtp_layer_params(spec) if spec.mtp_layers else 0,
    }
    # Tied embeddings: the one table is also the output projection, multiplied with every token.
    head_active = breakdown["lm_head"] or breakdown["embedding"]
    active_breakdown = {
        **breakdown,
        "embedding": 0,
        "lm_head": head_active,
        "routed_experts": routed_active,
        "mtp": 0,
    }
    total = sum(v for k, v in breakdown.items() if k != "mtp")
    return ParamCounts(total, sum(active_breakdown.values()), breakdown, active_breakdown)
