"""GGUF architectures of 2026 MoE models (Qwen4-Exp, MiniMax-M3, Hy3, Hy4, dots3-note), several with
indexed/sparse attention or hyper-connections: table entries and the fields they derive
(``gguf_archs.py`` merges QM_ARCHS into its table).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import (
    GgufFile,
    attention_bias,
    mlp_layer_types,
    per_block,
    recurrent_layer_types,
    router_bias,
    shared_expert_width,
    sliding_flags,
    ssm_head_dim,
)
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, QWEN_NEXT, ArchMap
from moeplan.model.gguf_mla import indexer_types, mla
from moeplan.model.gguf_q4mtp import ple_fields

_INDEXER = {
    "indexer_n_heads": "attention.indexer.head_count",
    "indexer_head_dim": "attention.indexer.key_length",
}


def _one_nonzero(g: GgufFile, key: str) -> int:
    """The one nonzero value of a per-block array key (0 on the blocks it does not apply to)."""
    values = {int(v) for v in g.need(key)[: g.main_layers] if v}
    if len(values) != 1:
        raise SpecError(f"{g.path}: GGUF key '{g.arch}.{key}' has no single nonzero value")
    return values.pop()


def _indexer_kv_heads(g: GgufFile, layer: int) -> int:
    """The indexer's key heads: indexer.k_proj [hidden, kv_heads x key_length] (the converters
    split the fused index q/k projection into indexer.q_proj and indexer.k_proj)."""
    width = g.shape(f"blk.{layer}.indexer.k_proj.weight")[1]
    return width // int(g.need("attention.indexer.key_length"))


def qwen4exp(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Qwen4ExpTextModel writes layer_types as attention.recurrent_layers and the QSA block
    size per block (attention.compress_ratios, 0 on Gated DeltaNet blocks), which llama.cpp's
    loader (models/qwen4exp.cpp) reads as dsv4_compress_ratios: a block with ratio 0 runs no
    QSA. Per-Layer Embedding layers (ple.layers): gguf_q4mtp.ple_fields."""
    recurrent_layer_types(g, cfg)
    cfg["linear_value_head_dim"] = ssm_head_dim(g)
    cfg["indexer_budget"] = int(g.need("attention.indexer.top_k"))
    attention = [i for i, t in enumerate(cfg["layer_types"]) if t == "full_attention"]
    if attention:
        cfg["indexer_kv_heads"] = _indexer_kv_heads(g, attention[0])
        ratios = g.need("attention.compress_ratios")
        if not any(ratios[i] for i in attention):
            raise SpecError(
                f"{g.path}: GGUF key '{g.arch}.attention.compress_ratios' is 0 on every attention "
                "block (llama.cpp then runs no QSA): the indexer block size is unknown"
            )
        cfg["indexer_compress_ratio"] = _one_nonzero(g, "attention.compress_ratios")
    if g.key("ple.layers"):
        ple_fields(g, cfg)


def qk_norm_type(g: GgufFile, cfg: dict[str, Any]) -> None:
    """use_qk_norm / qk_norm_type (MiniMax remote code): attn_q_norm of head_dim is one norm per
    head, of heads x head_dim one over all heads, none without the tensor."""
    q_norm = g.first("attn_q_norm.weight")
    cfg["use_qk_norm"] = q_norm is not None
    if q_norm is not None:
        width = g.shape(f"blk.{q_norm}.attn_q_norm.weight")[0]
        cfg["qk_norm_type"] = "per_head" if width == cfg.get("head_dim") else "per_layer"


def minimax_m3(g: GgufFile, cfg: dict[str, Any]) -> None:
    """MiniMaxM3Model writes no layer patterns: llama.cpp's loader (models/minimax-m3.cpp)
    builds the leading_dense_block_count blocks dense with plain attention and every later one
    MoE with a lightning indexer (indexer.k_proj). Read from the tensors: a block is sparse
    attention where it holds the indexer and MoE where it holds a router; the shared MLP's
    width is ffn_up_shexp's; the router's score bias is exp_probs_b."""
    indexed = g.layers_with("indexer.k_proj.weight")
    cfg["layer_types"] = [
        "minimax_m3_sparse" if i in indexed else "full_attention" for i in range(g.main_layers)
    ]
    cfg["mlp_layer_types"] = mlp_layer_types(g)
    if indexed and _indexer_kv_heads(g, indexed[0]) != 1:
        raise SpecError(f"{g.path}: GGUF minimax-m3 indexer.k_proj is not one key head wide")
    cfg["shared_intermediate_size"] = shared_expert_width(g) or 0
    cfg["use_routing_bias"] = router_bias(g)
    qk_norm_type(g, cfg)


def hy_v3(g: GgufFile, cfg: dict[str, Any]) -> None:
    """HYV3Model writes the shared MLP's width as expert_shared_feed_forward_length =
    moe_intermediate_size x num_shared_experts and no layer pattern: llama.cpp's loader
    (models/hy-v3.cpp) builds a block MoE where it holds a router, else dense."""
    shared = g.key("expert_shared_feed_forward_length")
    cfg["num_shared_experts"] = int(shared or 0) // int(g.need("expert_feed_forward_length"))
    cfg["mlp_layer_types"] = mlp_layer_types(g)
    attention_bias(g, cfg)


def hy_v4(g: GgufFile, cfg: dict[str, Any]) -> None:
    """HYV4Model writes DeepseekV2Model's MLA keys (mla), the DSA indexer with its per-block
    types when the checkpoint has one (indexer_types), and the hyper-connection count; the
    dense and MoE blocks are the routers' (mlp_layer_types), as llama.cpp's loader
    (models/hy-v4.cpp) builds them from leading_dense_block_count."""
    mla(g, cfg)
    indexer_types(g, cfg)
    cfg["mlp_layer_types"] = mlp_layer_types(g)


def _swa_layer_fields(g: GgufFile, rope: int) -> dict[str, Any]:
    """The MLA shape of dots3-note's sliding layers (the converter's *_swa keys, and their
    head count in the per-block head_count array), as Dots3NoteTextConfig.per_layer_config
    holds it."""
    key = int(g.need("attention.key_length_mla_swa"))
    return {
        "kv_lora_rank": int(g.need("attention.kv_lora_rank_swa")),
        "qk_nope_head_dim": key - rope,
        "qk_rope_head_dim": rope,
        "v_head_dim": int(g.need("attention.value_length_mla_swa")),
        "head_dim": key,
    }


def dots3note(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Dots3NoteModel writes head_count per block (the sliding layers' own count), the sliding
    layers' MLA shape in *_swa keys and the per-block sliding_window_pattern, which llama.cpp's
    loader (models/dots3note.cpp) reads; the DSA indexer runs on the blocks indexer.types
    flags (the full-attention ones). KV heads: MLA's, one per query head (the HF config's)."""
    heads = per_block(g, g.need("attention.head_count"))
    sliding = sliding_flags(g)
    indexed = [bool(v) for v in per_block(g, g.need("attention.indexer.types"))]
    full = [i for i in range(g.main_layers) if not sliding[i]]
    if not full:
        raise SpecError(f"{g.path}: GGUF dots3note file has no full-attention block")
    kv_a = g.shape(f"blk.{full[0]}.attn_kv_a_mqa.weight")
    rope = kv_a[1] - int(g.need("attention.kv_lora_rank"))
    key = int(g.need("attention.key_length_mla"))
    cfg.update(
        num_attention_heads=heads[full[0]],
        num_key_value_heads=heads[full[0]],
        qk_rope_head_dim=rope,
        qk_nope_head_dim=key - rope,
        v_head_dim=int(g.need("attention.value_length_mla")),
        head_dim=key,
    )
    cfg["layer_types"] = [
        "sliding_attention" if s else "indexed_attention" if x else "full_attention"
        for s, x in zip(sliding, indexed, strict=True)
    ]
    swa = _swa_layer_fields(g, rope) if any(sliding) else {}
    cfg["per_layer_config"] = {
        str(i): {**swa, "num_attention_heads": heads[i], "num_key_value_heads": heads[i]}
        for i in range(g.main_layers)
        if sliding[i]
    }
    cfg["mlp_layer_types"] = mlp_layer_types(g)
    width = shared_expert_width(g)
    if width is not None:
        cfg["shared_experts_intermediate_size"] = width // int(g.need("expert_shared_count"))


QM_ARCHS: dict[str, ArchMap] = {
    # Qwen4ExpTextModel (Qwen3.8-Flash-Next: Qwen3.5 layers, hyper-connections, QSA indexer on
    # the attention blocks; MTP not exported)
    "qwen4exp": ArchMap(
        "qwen4_exp_text",
        {
            **QWEN_NEXT,
            **_INDEXER,
            "hc_count": "hyper_connection.count",
            "hc_lowrank": "hyper_connection.low_rank",
        },
        (qwen4exp,),
    ),
    # MiniMaxM3Model (MiniMax-M3, MiniMaxM3SparseForConditionalGeneration: the text model; the
    # vision tower goes to an mmproj file). intermediate_size is the expert width
    "minimax-m3": ArchMap(
        "minimax_m3_vl_text",
        {
            **{k: v for k, v in COMMON.items() if k != "intermediate_size"},
            **HEAD_DIM,
            "dense_intermediate_size": "feed_forward_length",
            "intermediate_size": "expert_feed_forward_length",
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "n_shared_experts": "expert_shared_count",
            "rotary_dim": "rope.dimension_count",
            "index_n_heads": "attention.indexer.head_count",
            "index_head_dim": "attention.indexer.key_length",
            "index_topk_blocks": "attention.indexer.top_k",
            "index_block_size": "attention.indexer.block_size",
            "index_local_blocks": "attention.indexer.local_blocks",
        },
        (minimax_m3,),
    ),
    # HYV3Model (Hy3; MTP blocks appended, nextn_predict_layers)
    "hy_v3": ArchMap(
        "hy_v3", {**COMMON, **MOE, **HEAD_DIM, "num_experts": "expert_count"}, (hy_v3,)
    ),
    # HYV4Model (Hy4: MLA with a gated output and sinks, DSA indexer, hyper-connections; the
    # MTP layers are dropped)
    "hy_v4": ArchMap(
        "hy_v4",
        {
            **COMMON,
            **MOE,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "q_lora_rank": "attention.q_lora_rank",
            "kv_lora_rank": "attention.kv_lora_rank",
            "index_n_heads": "attention.indexer.head_count",
            "index_head_dim": "attention.indexer.key_length",
            "index_topk": "attention.indexer.top_k",
            "hc_mult": "hyper_connection.count",
        },
        (hy_v4,),
    ),
    # Dots3NoteModel (dots3-note: full-attention MLA blocks with the DSA indexer, sliding MLA
    # blocks of their own shape, a head-wise gate; the MTP block appended when the checkpoint
    # holds model.mtp.*)
    "dots3note": ArchMap(
        "dots3_note_text",
        {
            **{k: v for k, v in COMMON.items() if "heads" not in k},
            **MOE,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
            "q_lora_rank": "attention.q_lora_rank",
            "kv_lora_rank": "attention.kv_lora_rank",
            "sliding_window": "attention.sliding_window",
            "index_n_heads": "attention.indexer.head_count",
            "index_head_dim": "attention.indexer.key_length",
            "index_topk": "attention.indexer.top_k",
        },
        (dots3note,),
    ),
}
