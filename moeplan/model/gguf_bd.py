"""GGUF architectures of the Ling (Bailing) and DeepSeek-MoE v1 lines and SmallThinker (Ling 2.0,
Ling 1, DeepSeek-MoE, SmallThinker-21BA3B/4BA0.6B): table entries and the fields they derive
(``gguf_archs.py`` merges BD_ARCHS into its table).

Their converters write the standard keys (``gguf_keys.COMMON``) and the expert keys; what the
HF config holds as switches (q/k norm, qkv bias, the router's expert bias) is read back from the
tensor table, as llama.cpp's loader creates those tensors only when the file has them.
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import (
    GgufFile,
    attention_bias,
    mlp_layer_types,
    qk_norm,
    router_bias,
    swa_layers,
)
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, ArchMap

_BAILING = {
    **COMMON,
    **MOE,
    "num_experts": "expert_count",
    "num_shared_experts": "expert_shared_count",
    "first_k_dense_replace": "leading_dense_block_count",
}


def _first_moe(g: GgufFile) -> int:
    """The first main block with a router (ffn_gate_inp)."""
    layer = g.first("ffn_gate_inp.weight")
    if layer is None:
        raise SpecError(f"{g.path}: GGUF {g.arch} file has no MoE layer (ffn_gate_inp)")
    return layer


def _fused_qkv_biases(g: GgufFile, cfg: dict[str, Any]) -> None:
    """use_qkv_bias / use_bias (BailingMoe(V2)Attention's query_key_value and dense): the
    first layer's qkv bias (BailingMoeModel splits the fused weight into attn_q/k/v but maps
    its bias as attn_qkv.bias) and attn_output bias."""
    cfg["use_qkv_bias"] = g.has("blk.0.attn_qkv.bias") or g.has("blk.0.attn_q.bias")
    cfg["use_bias"] = g.has("blk.0.attn_output.bias")


def bailing_moe(g: GgufFile, cfg: dict[str, Any]) -> None:
    """BailingMoeModel: the fused qkv's biases; the shared experts are n_shared x the expert
    width, as llama.cpp's loader (models/bailingmoe.cpp) makes them."""
    _fused_qkv_biases(g, cfg)


def bailing_moe_v2(g: GgufFile, cfg: dict[str, Any]) -> None:
    """BailingMoeV2Model: use_qk_norm from attn_q_norm, moe_router_enable_expert_bias from
    exp_probs_b, the fused qkv's biases; the shared experts' width from ffn_up_shexp of the
    first MoE block (llama.cpp's loader, models/bailingmoe2.cpp, makes it n_expert_shared x
    (expert_shared_feed_forward_length or the expert width)): per shared expert the width
    over expert_shared_count, when it is not the routed expert width."""
    _fused_qkv_biases(g, cfg)
    qk_norm(g, cfg)
    cfg["moe_router_enable_expert_bias"] = router_bias(g)
    shared = int(cfg.get("num_shared_experts") or 0)
    if shared:
        width = g.shape(f"blk.{_first_moe(g)}.ffn_up_shexp.weight")[1] // shared
        if width != cfg.get("moe_intermediate_size"):
            cfg["moe_shared_expert_intermediate_size"] = width


def deepseek(g: GgufFile, cfg: dict[str, Any]) -> None:
    """DeepseekModel (v1): attention_bias from attn_q.bias; the MoE blocks are those with a
    router (llama.cpp's loader, models/deepseek.cpp, makes the first leading_dense_block_count
    blocks dense), as mlp_layer_types."""
    attention_bias(g, cfg)
    cfg["mlp_layer_types"] = mlp_layer_types(g)


def smallthinker(g: GgufFile, cfg: dict[str, Any]) -> None:
    """SmallThinkerModel writes the window (sliding_window_size) only when a layer slides, and
    no layout: llama.cpp's loader (models/smallthinker.cpp) takes period 4, full attention
    first (load_swa_pattern(4, dense_first)), as SmallThinker-21BA3B's sliding_window_layout
    [0, 1, 1, 1, ...] has it; without the key no layer slides."""
    slides = swa_layers(g, 4, dense_first=True) if g.key("attention.sliding_window") else []
    cfg["sliding_window_layout"] = [int(s) for s in slides] or [0] * g.main_layers


BD_ARCHS: dict[str, ArchMap] = {
    # BailingMoeV2Model (Ling/Ring 2.0; MTP layers appended: nextn_predict_layers)
    "bailingmoe2": ArchMap("bailing_moe_v2", {**_BAILING, **HEAD_DIM}, (bailing_moe_v2,)),
    # BailingMoeModel (Ling-lite / Ling-plus, Ling 1.5)
    "bailingmoe": ArchMap("bailing_moe", {**_BAILING, **HEAD_DIM}, (bailing_moe,)),
    # DeepseekModel (DeepSeek-MoE 16B, v1: MHA, fine-grained + shared experts)
    "deepseek": ArchMap(
        "deepseek",
        {
            **COMMON,
            **MOE,
            **HEAD_DIM,
            "n_routed_experts": "expert_count",
            "n_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
        },
        (deepseek,),
    ),
    # SmallThinkerModel (SmallThinker-21BA3B / 4BA0.6B): the expert width is also written as
    # feed_forward_length (the config has no dense width)
    "smallthinker": ArchMap(
        "smallthinker",
        {
            **{k: v for k, v in COMMON.items() if k != "intermediate_size"},
            **HEAD_DIM,
            "moe_num_primary_experts": "expert_count",
            "moe_num_active_primary_experts": "expert_used_count",
            "moe_ffn_hidden_size": "expert_feed_forward_length",
            "sliding_window_size": "attention.sliding_window",
        },
        (smallthinker,),
    ),
}
