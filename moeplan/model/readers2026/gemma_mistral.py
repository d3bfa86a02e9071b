"""Gemma 4 and Mistral Small 4 / Large 4.

Each reader follows its transformers 5.23 modeling code (named per function) to the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import mixer_plan
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import MAX_FIELD, Fields
from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    LayerSpec,
    MoESpec,
    QKNorm,
    WindowKind,
)


def _mistral_large4(f: Fields, family: str) -> dict[str, Any]:
    """MistralLarge4TextModel: GLM-MoE-DSA layers (MLA without q-LoRA, DSA indexer, DeepSeek-V3
    MoE with a softmax router without correction bias) where every attention and indexer scales
    its queries per head (MistralLarge4TextSoftmaxScaling: scale + bias), the indexer's queries
    come from the hidden state through a LayerNorm (MistralLarge4TextIndexer), NoPE layers
    (no_rope_layers 0) carry no RoPE key (qk_nope_head_dim takes the rope slice: kv_b_proj
    wider, kv_a_proj_with_mqa and the cached latent narrower), and a layer whose
    kv_source_layers entry is an earlier layer has no kv_a_proj_with_mqa / kv_a_layernorm and
    caches no latent (it keeps its indexer keys when its indexer is "full")."""
    if f.bool("attention_bias"):
        raise SpecError(f"{f.where}: attention_bias true is not modelled for {family}")
    if f.has("q_lora_rank"):
        raise SpecError(f"{f.where}: {family} has no q-LoRA (field 'q_lora_rank' is set)")
    out = read_layers(f, family, Traits())
    n = len(out["layers"])
    base: AttentionSpec = out["attention"]
    if base.indexer is None:
        raise SpecError(f"{f.where}: {family} needs the DSA indexer fields (index_n_heads)")
    indexer = replace(base.indexer, query_norm=True)
    base = replace(base, log_scaling=True, indexer=indexer)
    interval = f.int("no_rope_layer_interval", default=4)
    rope = f.int_list("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n)]
    sources = f.int_list("kv_source_layers") or list(range(n))
    if len(rope) < n or len(sources) != n:
        raise SpecError(f"{f.where}: no_rope_layers / kv_source_layers need {n} entries")
    for i, src in enumerate(sources):
        if not 0 <= src <= i or sources[src] != src:
            raise SpecError(
                f"{f.where}: kv_source_layers[{i}] = {src} must be an earlier layer that owns "
                "its cache"
            )
    layers = []
    for i, layer in enumerate(out["layers"]):
        attn = layer.attention or base
        attn = replace(
            attn,
            log_scaling=True,
            indexer=replace(indexer, shared=attn.indexer.shared) if attn.indexer else None,
            kv_shared=sources[i] != i,
        )
        if not rope[i]:
            assert attn.qk_rope_head_dim is not None and attn.qk_nope_head_dim is not None
            attn = replace(
                attn,
                qk_nope_head_dim=attn.qk_nope_head_dim + attn.qk_rope_head_dim,
                qk_rope_head_dim=0,
            )
        layers.append(replace(layer, attention=None if attn == base else attn))
    out.update(attention=base, layers=tuple(layers))
    return out


def _gemma4_kv_modes(types: list[str], n: int, shared: int, f: Fields) -> list[str | None]:
    """Gemma4TextConfig.kv_sharing_modes: the last num_kv_shared_layers layers reuse the cache
    of the last earlier layer of their type ("reuse"); those sources "store"."""
    if not shared:
        return [None] * n
    first = n - shared
    if first < 1 or set(types[:first]) != set(types):
        raise SpecError(
            f"{f.where}: num_kv_shared_layers {shared} leaves no earlier layer of each type "
            "to share the cache of"
        )
    return [None if i < first else "reuse" for i in range(n)]


def _gemma4_layer_overrides(f: Fields, n: int, types: list[str]) -> dict[int, dict[str, int]]:
    """Gemma4TextConfig per_layer_config (head_dim / num_key_value_heads of the full-attention
    layers), or what __post_init__ builds it from: global_head_dim (default 512) and, when
    attention_k_eq_v, num_global_key_value_heads."""
    raw = f.get("per_layer_config")
    if raw is None:
        over: dict[str, int] = {"head_dim": f.int("global_head_dim", default=512)}
        if f.bool("attention_k_eq_v") and f.has("num_global_key_value_heads"):
            over["num_key_value_heads"] = f.int("num_global_key_value_heads")
        return {i: over for i, t in enumerate(types) if t == "full_attention"}
    if not isinstance(raw, dict):
        raise SpecError(f"{f.where}: field 'per_layer_config' must be a mapping")
    out: dict[int, dict[str, int]] = {}
    for key, over in raw.items():
        idx = int(key)
        if not isinstance(over, dict) or not 0 <= idx < n:
            raise SpecError(f"{f.where}: per_layer_config entry {key!r} is not a layer's fields")
        unknown = sorted(set(over) - {"head_dim", "num_key_value_heads"})
        if unknown:
            raise SpecError(f"{f.where}: per_layer_config overrides {', '.join(unknown)}")
        out[idx] = Fields(over, f"{f.where}: per_layer_config[{key}]").cfg
    return out


def _gemma4(f: Fields, family: str) -> dict[str, Any]:
    """Gemma4TextModel / Gemma4TextDecoderLayer: per layer a GQA attention with q/k RMSNorm
    per head (v norm without weight), full-attention layers with their own head_dim and KV
    heads (per_layer_config) and, with attention_k_eq_v, no v_proj; the last
    num_kv_shared_layers layers reuse an earlier layer's K/V (only q_proj, q_norm, o_proj);
    a gated dense MLP in every layer (twice as wide on KV-shared layers with
    use_double_wide_mlp), beside it a MoE block when enable_moe_block (Gemma4TextRouter with
    input and per-expert scales, Gemma4TextExperts gate_up + down; three more norms); four
    norms a layer, one more with per-layer inputs (PLE, hidden_size_per_layer_input)."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    heads = f.int("num_attention_heads")
    plan = mixer_plan(f, n)
    types = [str(t) for t in f.list("layer_types")] or [
        "sliding_attention" if k is WindowKind.SLIDING else "full_attention" for _, k in plan
    ]
    overrides = _gemma4_layer_overrides(f, n, types)
    modes = _gemma4_kv_modes(types, n, f.int("num_kv_shared_layers", default=0, minimum=0), f)
    bias = f.bool("attention_bias")
    k_eq_v = f.bool("attention_k_eq_v")
    window = f.int("sliding_window")
    if f.get("use_bidirectional_attention") == "all":  # Gemma4TextConfig.__post_init__
        window = window // 2 + 1
    moe = None
    if f.bool("enable_moe_block"):
        moe = MoESpec(
            f.int("num_experts"),
            f.int("top_k_experts"),
            f.int("moe_intermediate_size"),
            router_scales=True,
        )
    double = f.bool("use_double_wide_mlp")

    def attention(i: int) -> AttentionSpec:
        over = overrides.get(i, {})
        head_dim = int(over.get("head_dim", f.int("head_dim")))
        kv = int(over.get("num_key_value_heads", f.int("num_key_value_heads", default=heads)))
        if heads % kv:
            raise SpecError(f"{f.where}: layer {i}: {heads} heads over {kv} KV heads")
        return AttentionSpec(
            AttentionKind.GQA,
            heads,
            kv,
            head_dim,
            head_dim,
            qkv_bias=bias,
            o_bias=bias,
            qk_norm=QKNorm.PER_HEAD,
            kv_shared=modes[i] == "reuse",
            k_eq_v=k_eq_v and types[i] != "sliding_attention",
        )

    base = attention(0)
    layers = []
    for i, (mixer, kind) in enumerate(plan):
        attn = attention(i)
        layers.append(
            LayerSpec(
                "moe+dense" if moe else "dense",
                kind,
                window if kind is WindowKind.SLIDING else None,
                mixer,
                None if attn == base else attn,
                dense_width_factor=2 if double and modes[i] == "reuse" else 1,
            )
        )
    ple = f.int("hidden_size_per_layer_input", default=0, minimum=0)
    return dict(
        hidden_size=hidden,
        attention=base,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size"),
        norms_per_layer=4 + (3 if moe else 0) + (1 if ple else 0),
        tie_word_embeddings=f.bool("tie_word_embeddings", default=True),
        per_layer_input_size=ple,
        # a vocabulary, not a layer count, whatever its name says
        per_layer_input_vocab=(
            f.int("vocab_size_per_layer_input", maximum=MAX_FIELD) if ple else 0
        ),
    )


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "gemma4_text": _gemma4,
    "gemma4": _gemma4,
    "mistral_large4_text": _mistral_large4,
    "mistral_large4": _mistral_large4,
}
TRAITS: dict[str, Traits] = {
    # Mistral4Model = DeepseekV3Model: MLA with q-LoRA caching the latent, DeepSeek-V3 MoE with a
    # shared expert and a softmax group router without e_score_correction_bias
    # (Mistral4TopkRouter); first_k_dense_replace dense layers
    "mistral4": Traits(),
}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset(
    {
        "routed_scaling_factor",  # Mistral4TopkRouter: scales the top-k weights
        "n_group",  # group-limited routing: which experts, not how many weights
        "topk_group",
        "norm_topk_prob",  # renormalises the top-k weights
        "rope_interleave",  # RoPE layout of the same q/k channels
        "qk_head_dim",  # derived: qk_nope_head_dim + qk_rope_head_dim (read from those)
        "head_dim",  # Mistral4Config sets it to qk_nope + qk_rope (MLA reads those)
        "pretraining_tp",  # tensor-parallel split of the same matrices at pretraining
    }
)
