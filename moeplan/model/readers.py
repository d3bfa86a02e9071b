"""Config readers of the families with a reader of their own (Mixtral, Qwen-MoE, DeepSeek/Kimi/GLM,
Llama 4, gpt-oss, DBRX, Grok-1, dense Llama/Mistral/Qwen): each follows its modeling code in
transformers (named per function) and returns ModelSpec fields. Newer families are field
mappings over the building blocks (``families.py``); ``hf_config.py`` dispatches on model_type.
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import NUM_EXPERTS, mla
from moeplan.model.fields import Fields, div
from moeplan.model.readers2026.grok import grok_hf
from moeplan.model.specs import (
    AttentionKind,
    AttentionSpec,
    LayerSpec,
    MoESpec,
    QKNorm,
    WindowKind,
)


def _gqa(f: Fields, hidden: int, heads: int, **kw: Any) -> AttentionSpec:
    kv_heads = f.int("num_key_value_heads", default=heads)
    head_dim = f.int("head_dim", default=0, minimum=0) or div(hidden, heads, f, "head_dim")
    if heads % kv_heads:
        raise SpecError(
            f"{f.where}: num_attention_heads {heads} is not a multiple of "
            f"num_key_value_heads {kv_heads}"
        )
    return AttentionSpec(AttentionKind.GQA, heads, kv_heads, head_dim, head_dim, **kw)


def _all_layers(n: int, ffn: str, window: int | None = None) -> tuple[LayerSpec, ...]:
    if window:
        return tuple(LayerSpec(ffn, WindowKind.SLIDING, window) for _ in range(n))
    return tuple(LayerSpec(ffn) for _ in range(n))


def _mixtral_like(f: Fields, family: str) -> dict[str, Any]:
    """Mixtral / Phi-MoE / OLMoE (CausalLM): every layer MoE, SwiGLU experts."""
    hidden = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    n_layers = f.int("num_hidden_layers")
    num_experts = f.int("num_local_experts") if family != "olmoe" else f.int("num_experts")
    window = f.opt_int("sliding_window")
    bias = f.bool("attention_bias")
    attn = _gqa(
        f,
        hidden,
        heads,
        qkv_bias=bias,
        o_bias=bias,
        qk_norm=QKNorm.FULL if family == "olmoe" else QKNorm.NONE,
    )
    return dict(
        hidden_size=hidden,
        attention=attn,
        layers=_all_layers(n_layers, "moe", window),
        moe=MoESpec(num_experts, f.int("num_experts_per_tok"), f.int("intermediate_size")),
        dense_intermediate_size=0,
        lm_head_bias=f.bool("lm_head_bias"),
        norm_has_bias=family == "phimoe",  # PhimoeDecoderLayer uses nn.LayerNorm (with bias)
    )


def _qwen_moe(f: Fields, family: str) -> dict[str, Any]:
    """Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer: a layer is sparse when it is not in
    mlp_only_layers and (idx + 1) % decoder_sparse_step == 0; Qwen2 adds a gated shared expert."""
    hidden = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    n_layers = f.int("num_hidden_layers")
    step = f.int("decoder_sparse_step", default=1)
    mlp_only = set(f.int_list("mlp_only_layers"))
    num_experts = f.int_of(NUM_EXPERTS, default=0, minimum=0)  # v5 configs: num_local_experts
    window = f.opt_int("sliding_window") if f.bool("use_sliding_window") else None
    max_window_layers = f.int("max_window_layers", default=n_layers, minimum=0)
    layers = []
    for i in range(n_layers):
        sparse = num_experts > 0 and i not in mlp_only and (i + 1) % step == 0
        sliding = window is not None and i >= max_window_layers
        layers.append(
            LayerSpec(
                "moe" if sparse else "dense",
                WindowKind.SLIDING if sliding else WindowKind.FULL,
                window if sliding else None,
            )
        )
    shared = f.int("shared_expert_intermediate_size", default=0, minimum=0)
    qkv_bias = family == "qwen2_moe" or f.bool("attention_bias")  # Qwen2 q/k/v always biased
    attn = _gqa(
        f,
        hidden,
        heads,
        qkv_bias=qkv_bias,
        qk_norm=QKNorm.PER_HEAD if family == "qwen3_moe" else QKNorm.NONE,
    )
    moe = None
    if num_experts:
        moe = MoESpec(
            num_experts,
            f.int("num_experts_per_tok"),
            f.int("moe_intermediate_size"),
            num_shared_experts=1 if shared else 0,
            shared_intermediate_size=shared,
            shared_expert_gate=bool(shared),
        )
    dense_width = f.int("intermediate_size") if any(not layer.is_moe for layer in layers) else 0
    return dict(
        hidden_size=hidden,
        attention=attn,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=dense_width,
    )


def _deepseek_like(f: Fields, family: str) -> dict[str, Any]:
    """DeepseekV2/V3 (and Kimi-K2, GLM-4.5 which share the layer plan): the first
    first_k_dense_replace layers are dense, then MoE every moe_layer_freq layers, with
    n_shared_experts always-on experts of width moe_intermediate_size."""
    hidden = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    n_layers = f.int("num_hidden_layers")
    first_dense = f.int("first_k_dense_replace", default=0, minimum=0)
    freq = f.int("moe_layer_freq", default=1)
    layers = tuple(
        LayerSpec("moe" if i >= first_dense and i % freq == 0 else "dense") for i in range(n_layers)
    )
    moe_width = f.int("moe_intermediate_size")
    if family == "glm4_moe":
        attn = _gqa(
            f,
            hidden,
            heads,
            qkv_bias=f.bool("attention_bias"),
            qk_norm=QKNorm.PER_HEAD if f.bool("use_qk_norm") else QKNorm.NONE,
        )
        score_bias = True  # Glm4MoeTopkRouter holds e_score_correction_bias
    else:
        attn = mla(f)  # the DSA indexer too, where a config sets index_n_heads
        # DeepseekV3 MoEGate holds e_score_correction_bias with noaux_tc; transformers v5
        # configs of DeepSeek-V3 / Kimi-K2 drop topk_method and always build it
        method = f.cfg.get("topk_method")
        score_bias = method == "noaux_tc" or (method is None and family != "deepseek_v2")
    n_shared = f.int("n_shared_experts", default=0, minimum=0)
    moe = MoESpec(
        f.int("n_routed_experts"),
        f.int("num_experts_per_tok"),
        moe_width,
        num_shared_experts=n_shared,
        shared_intermediate_size=moe_width if n_shared else 0,
        router_score_bias=score_bias,
    )
    return dict(
        hidden_size=hidden,
        attention=attn,
        layers=layers,
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if first_dense else 0,
        mtp_layers=f.int("num_nextn_predict_layers", default=0, minimum=0),
    )


def _llama4(f: Fields, family: str) -> dict[str, Any]:
    """Llama4TextConfig: MoE layers at range(step-1, n, step) with top-k routed experts plus one
    shared expert of width intermediate_size; dense layers use intermediate_size_mlp. Layers with
    RoPE use chunked attention (attention_chunk_size); every no_rope_layer_interval-th layer
    (default 4) is a global NoPE layer (Llama4TextAttention)."""
    hidden = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    n_layers = f.int("num_hidden_layers")
    step = f.int("interleave_moe_layer_step", default=1)
    moe_layers = set(f.int_list("moe_layers")) or set(range(step - 1, n_layers, step))
    chunk = f.opt_int("attention_chunk_size")
    no_rope = f.int_list("no_rope_layers") or [int((i + 1) % 4 != 0) for i in range(n_layers)]
    if len(no_rope) != n_layers:
        raise SpecError(
            f"{f.where}: field 'no_rope_layers' has {len(no_rope)} entries, "
            f"num_hidden_layers is {n_layers}"
        )
    layers = []
    for i in range(n_layers):
        chunked = chunk is not None and no_rope[i] == 1
        layers.append(
            LayerSpec(
                "moe" if i in moe_layers else "dense",
                WindowKind.CHUNKED if chunked else WindowKind.FULL,
                chunk if chunked else None,
            )
        )
    width = f.int("intermediate_size")
    has_dense = any(not layer.is_moe for layer in layers)
    return dict(
        hidden_size=hidden,
        attention=_gqa(
            f, hidden, heads, qkv_bias=f.bool("attention_bias"), o_bias=f.bool("attention_bias")
        ),
        layers=tuple(layers),
        moe=MoESpec(
            f.int("num_local_experts"),
            f.int("num_experts_per_tok"),
            width,
            num_shared_experts=1,
            shared_intermediate_size=width,
        ),
        dense_intermediate_size=f.int("intermediate_size_mlp") if has_dense else 0,
    )


def _gpt_oss(f: Fields, family: str) -> dict[str, Any]:
    """GptOssForCausalLM: every layer MoE with biased experts and router; layer_types alternates
    sliding_attention (sliding_window tokens) and full_attention; q/k/v/o biased; per-head sinks."""
    hidden = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    n_layers = f.int("num_hidden_layers")
    window = f.int("sliding_window")
    types = f.list("layer_types") or ["sliding_attention", "full_attention"] * (n_layers // 2)
    if len(types) != n_layers:
        raise SpecError(
            f"{f.where}: field 'layer_types' has {len(types)} entries, "
            f"num_hidden_layers is {n_layers}"
        )
    layers = tuple(
        LayerSpec("moe", WindowKind.SLIDING, window)
        if t == "sliding_attention"
        else LayerSpec("moe")
        for t in types
    )
    attn = _gqa(f, hidden, heads, qkv_bias=True, o_bias=True, sinks=True)
    top_k = f.int("num_experts_per_tok", default=0, minimum=0) or f.int("experts_per_token")
    moe = MoESpec(
        f.int("num_local_experts"),
        top_k,
        f.int("intermediate_size"),
        router_bias=True,
        expert_bias=True,
    )
    return dict(
        hidden_size=hidden, attention=attn, layers=layers, moe=moe, dense_intermediate_size=0
    )


def _dbrx(f: Fields, family: str) -> dict[str, Any]:
    """DbrxForCausalLM: d_model/n_heads/n_layers at top level, attn_config and ffn_config nested;
    every layer MoE with GLU experts (w1, v1, w2); LayerNorm without bias."""
    hidden = f.int("d_model")
    heads = f.int("n_heads")
    attn_cfg = Fields(_sub(f, "attn_config"), f"{f.where}: attn_config")
    ffn_cfg = Fields(_sub(f, "ffn_config"), f"{f.where}: ffn_config")
    kv = attn_cfg.int("kv_n_heads")
    attn = AttentionSpec(AttentionKind.GQA, heads, kv, hidden // heads, hidden // heads)
    moe = MoESpec(
        ffn_cfg.int("moe_num_experts"), ffn_cfg.int("moe_top_k"), ffn_cfg.int("ffn_hidden_size")
    )
    return dict(
        hidden_size=hidden,
        attention=attn,
        layers=_all_layers(f.int("n_layers"), "moe"),
        moe=moe,
        dense_intermediate_size=0,
        vocab_size=f.int("vocab_size"),
        max_position_embeddings=f.opt_int("max_seq_len"),
    )


def _grok1(f: Fields, family: str) -> dict[str, Any]:
    """Grok-1 reference code (xai-org/grok-1 run.py, model.py): emb_size, key_size, q/kv heads;
    ffn_size(emb, widening) = int(widening * emb) * 2 // 3 rounded up to a multiple of 8; gated
    experts (linear, linear_v, linear_1); four RMSNorms per layer; the InOutEmbed table is both
    input embedding and output projection (tied). A Hugging Face conversion under model_type
    "grok-1" (hpcai-tech/grok-1: hidden_size, num_experts, ...) is read by readers2026.grok."""
    if not f.has("emb_size") and f.has("hidden_size"):
        return grok_hf(f, family)
    emb = f.int("emb_size")
    width = int(f.int("widening_factor") * emb) * 2 // 3
    width += (-width) % 8
    heads = f.int("num_q_heads")
    key = f.int("key_size")
    attn = AttentionSpec(AttentionKind.GQA, heads, f.int("num_kv_heads"), key, key)
    moe = MoESpec(f.int("num_experts"), f.int("num_selected_experts"), width)
    return dict(
        hidden_size=emb,
        attention=attn,
        layers=_all_layers(f.int("num_layers"), "moe"),
        moe=moe,
        dense_intermediate_size=0,
        norms_per_layer=4,
        tie_word_embeddings=True,
        max_position_embeddings=f.opt_int("sequence_len"),
    )


def _dense(f: Fields, family: str) -> dict[str, Any]:
    """Dense decoder-only configs (Llama, Mistral, Qwen2, ...): SwiGLU MLP on every layer."""
    hidden = f.int("hidden_size")
    heads = f.int("num_attention_heads")
    window = f.opt_int("sliding_window") if f.cfg.get("use_sliding_window", True) else None
    bias = f.bool("attention_bias") or family == "qwen2"
    return dict(
        hidden_size=hidden,
        attention=_gqa(f, hidden, heads, qkv_bias=bias),
        layers=_all_layers(f.int("num_hidden_layers"), "dense", window),
        moe=None,
        dense_intermediate_size=f.int("intermediate_size"),
        mlp_bias=f.bool("mlp_bias"),
    )


def _sub(f: Fields, key: str) -> dict[str, Any]:
    value = f.cfg.get(key)
    if not isinstance(value, dict):
        raise SpecError(f"{f.where}: missing field '{key}'")
    return value


READERS = {
    "mixtral": _mixtral_like,
    "phimoe": _mixtral_like,
    "olmoe": _mixtral_like,
    "qwen2_moe": _qwen_moe,
    "qwen3_moe": _qwen_moe,
    "deepseek_v2": _deepseek_like,
    "deepseek_v3": _deepseek_like,
    "kimi_k2": _deepseek_like,
    "glm4_moe": _deepseek_like,
    "llama4": _llama4,
    "llama4_text": _llama4,
    "gpt_oss": _gpt_oss,
    "dbrx": _dbrx,
    "grok-1": _grok1,
    "llama": _dense,
    "mistral": _dense,
    "qwen2": _dense,
    "qwen3": _dense,
}
