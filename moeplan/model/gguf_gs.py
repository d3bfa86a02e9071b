"""GGUF architectures of branch gguf_gs: Gemma 4 (the 26B-A4B MoE and the dense E2B/E4B/31B
models, one llama.cpp architecture) and Step-3.5-Flash (step35), table entries and the fields
they derive (``gguf_archs.py`` merges GS_ARCHS into its table).

Gemma 4's converter writes the full-attention head size as ``attention.key_length`` and the
sliding one as ``attention.key_length_swa``, the KV heads per block (full layers may have fewer),
the sliding pattern per block and the KV-sharing tail (``attention.shared_kv_layers``); which
blocks hold experts, whether full layers share K and V, and the per-layer-input vocabulary are
in the tensor table.
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import (
    GgufFile,
    attention_bias,
    mlp_layer_types,
    per_block,
    qk_norm,
    router_bias,
    sliding_flags,
)
from moeplan.model.gguf_keys import ArchMap

__all__ = ["GS_ARCHS"]


def _gemma4_layer_types(g: GgufFile) -> list[str]:
    """layer_types from ``attention.sliding_window_pattern`` (one flag per block), which
    llama.cpp's loader requires (models/gemma4.cpp load_arch_hparams)."""
    pattern = g.need("attention.sliding_window_pattern")
    if not isinstance(pattern, list) or len(pattern) < g.main_layers:
        raise SpecError(
            f"{g.path}: GGUF key '{g.arch}.attention.sliding_window_pattern' is not a flag "
            "per block"
        )
    return ["sliding_attention" if s else "full_attention" for s in pattern[: g.main_layers]]


def _gemma4_attention(g: GgufFile, cfg: dict[str, Any], types: list[str]) -> None:
    """Sliding layers: head_dim = key_length_swa, num_key_value_heads = their head_count_kv;
    full layers get per_layer_config (head_dim = key_length and, where head_count_kv differs,
    their KV heads), as Gemma4Model.set_gguf_parameters writes them and llama.cpp's loader reads
    n_embd_head_k(i) / n_head_kv(i). attention_k_eq_v: a full layer that keeps its own K/V
    has no attn_v (llama.cpp uses attn_k for V then)."""
    cfg["head_dim"] = g.need("attention.key_length_swa")
    full_dim = g.need("attention.key_length")
    kv = per_block(g, g.need("attention.head_count_kv"))
    sliding = [kv[i] for i, t in enumerate(types) if t == "sliding_attention"]
    cfg["num_key_value_heads"] = sliding[0] if sliding else kv[0]
    overrides: dict[str, dict[str, int]] = {}
    for i, t in enumerate(types):
        if t == "full_attention":
            over = {"head_dim": full_dim}
            if kv[i] != cfg["num_key_value_heads"]:
                over["num_key_value_heads"] = kv[i]
            overrides[str(i)] = over
    cfg["per_layer_config"] = overrides
    own_kv = [i for i in g.layers_with("attn_k.weight") if types[i] == "full_attention"]
    cfg["attention_k_eq_v"] = bool(own_kv) and not g.has(f"blk.{own_kv[0]}.attn_v.weight")
    attention_bias(g, cfg)


def _gemma4_mlp(g: GgufFile, cfg: dict[str, Any]) -> None:
    """feed_forward_length: one width, or per block when use_double_wide_mlp (twice as wide on
    the KV-shared tail, Gemma4Model.set_gguf_parameters); experts when the blocks hold a
    router (llama.cpp's loader: has_expert = ffn_gate_inp present)."""
    widths = per_block(g, g.need("feed_forward_length"))
    shared = int(cfg.get("num_kv_shared_layers") or 0)
    base = widths[0]
    first_shared = g.main_layers - shared
    double = [base if i < first_shared else 2 * base for i in range(g.main_layers)]
    if widths != [base] * g.main_layers and widths != double:
        raise SpecError(
            f"{g.path}: GGUF gemma4 feed_forward_length {widths} is neither one width nor "
            "doubled on the KV-shared layers"
        )
    cfg["intermediate_size"] = base
    cfg["use_double_wide_mlp"] = shared > 0 and widths == double and widths != [base] * len(widths)
    routed = g.layers_with("ffn_gate_inp.weight")
    if routed and len(routed) != g.main_layers:
        raise SpecError(f"{g.path}: GGUF gemma4 blocks {routed} hold experts, not all blocks")
    cfg["enable_moe_block"] = bool(routed)
    if routed:
        cfg["num_experts"] = g.need("expert_count")
        cfg["top_k_experts"] = g.need("expert_used_count")
        cfg["moe_intermediate_size"] = g.need("expert_feed_forward_length")


def gemma4(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Gemma4Model (Gemma4ForConditionalGeneration / Gemma4ForCausalLM): the pattern, the
    per-kind attention, the MLP and experts, and the per-layer inputs (PLE:
    embedding_length_per_layer_input; per_layer_token_embd [layers x size, vocab]), as
    llama.cpp's models/gemma4.cpp loads them."""
    types = _gemma4_layer_types(g)
    cfg["layer_types"] = types
    _gemma4_attention(g, cfg, types)
    _gemma4_mlp(g, cfg)
    ple = int(cfg.get("hidden_size_per_layer_input") or 0)
    cfg["hidden_size_per_layer_input"] = ple
    if ple:
        cfg["vocab_size_per_layer_input"] = g.shape("per_layer_token_embd.weight")[1]


def _kind_value(g: GgufFile, key: str, sliding: list[bool], kind: bool) -> int | None:
    """The one value a per-block key holds on the blocks of one kind (sliding or full)."""
    values = {v for v, s in zip(per_block(g, g.need(key)), sliding, strict=True) if s == kind}
    if len(values) > 1:
        raise SpecError(f"{g.path}: GGUF key '{g.arch}.{key}' differs within a layer kind")
    return values.pop() if values else None


def _step35_gate(g: GgufFile, cfg: dict[str, Any], layer: int) -> None:
    """Step3p5Attention's g_proj (attn_gate): [hidden, heads] a sigmoid gate per head (the hub's
    use_head_wise_attn_gate), [hidden, heads x head_dim] per channel, absent without gating;
    llama.cpp's loader takes it per head (models/step35.cpp)."""
    if not g.has(f"blk.{layer}.attn_gate.weight"):
        cfg["use_head_wise_attn_gate"] = False
        return
    heads = per_block(g, g.need("attention.head_count"))[layer]
    width = g.shape(f"blk.{layer}.attn_gate.weight")[1]
    cfg["gating"] = "per-head" if width == heads else "per-element"


def step35(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Step35Model writes head_count / head_count_kv per block (attention_other_setting's on
    sliding blocks) and the per-block sliding pattern, which llama.cpp's loader requires
    (models/step35.cpp); the MoE blocks are those with a router (the hub's moe_layers_enum),
    the score-correction bias is exp_probs_b (use_moe_router_bias), q/k norms attn_q_norm."""
    sliding = sliding_flags(g)
    cfg["layer_types"] = ["sliding_attention" if s else "full_attention" for s in sliding]
    heads = {k: _kind_value(g, "attention.head_count", sliding, k) for k in (False, True)}
    kv = {k: _kind_value(g, "attention.head_count_kv", sliding, k) for k in (False, True)}
    base = heads[False] is None  # every block slides: its values are the base ones
    cfg["num_attention_heads"], cfg["num_attention_groups"] = heads[base], kv[base]
    if heads[True] is not None:
        cfg["attention_other_setting"] = {
            "attention_type": "sliding_attention",
            "num_attention_heads": heads[True],
            "num_attention_groups": kv[True],
            "head_dim": cfg["head_dim"],
        }
    cfg["mlp_layer_types"] = mlp_layer_types(g)
    cfg["use_moe_router_bias"] = router_bias(g)
    qk_norm(g, cfg)
    _step35_gate(g, cfg, 0)
    attention_bias(g, cfg)
    dense = g.first("ffn_up.weight")
    cfg["mlp_bias"] = dense is not None and g.has(f"blk.{dense}.ffn_up.bias")


GS_ARCHS: dict[str, ArchMap] = {
    # Gemma4Model (gemma-4-26B-A4B MoE; dense E2B/E4B/31B): the text model, the towers go to an
    # mmproj file
    "gemma4": ArchMap(
        "gemma4_text",
        {
            "num_hidden_layers": "block_count",
            "hidden_size": "embedding_length",
            "num_attention_heads": "attention.head_count",
            "max_position_embeddings": "context_length",
            "sliding_window": "attention.sliding_window",
            "num_kv_shared_layers": "attention.shared_kv_layers",
            "hidden_size_per_layer_input": "embedding_length_per_layer_input",
        },
        (gemma4,),
    ),
    # Step35Model (Step-3.5-Flash, Step3p5ForCausalLM; Step-3.7-Flash's text model): hub names
    "step35": ArchMap(
        "step3p5",
        {
            "num_hidden_layers": "block_count",
            "hidden_size": "embedding_length",
            "intermediate_size": "feed_forward_length",
            "max_position_embeddings": "context_length",
            "head_dim": "attention.key_length",
            "sliding_window": "attention.sliding_window",
            "moe_num_experts": "expert_count",
            "moe_top_k": "expert_used_count",
            "moe_intermediate_size": "expert_feed_forward_length",
            "share_expert_dim": "expert_shared_feed_forward_length",
        },
        (step35,),
    ),
}
