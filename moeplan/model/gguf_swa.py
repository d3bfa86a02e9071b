"""GGUF architectures whose blocks alternate sliding-window and full attention and mix dense and
MoE MLPs (EXAONE-MoE, Cohere2-MoE, Laguna, MiMo-V2-Flash): table entries and the fields they derive
(``gguf_archs.py`` merges SWA_ARCHS into its table).

The converters write the window and either the per-block pattern
(``attention.sliding_window_pattern``, one flag per block) or nothing, where llama.cpp's loader
takes its architecture's period (``gguf_derive.swa_layers``); the MLP kind of each block is in
the tensor table (a router, ffn_gate_inp, on MoE blocks).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import (
    GgufFile,
    attention_bias,
    head_dim_from_q,
    layer_types,
    per_block,
)
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, ArchMap

_EXPERTS = {**MOE, "num_experts": "expert_count"}


def exaone_moe(g: GgufFile, cfg: dict[str, Any]) -> None:
    """ExaoneMoEModel writes the pattern per block and no head_dim (attn_q's width)."""
    layer_types(g, cfg, 4, dense_first=False)
    head_dim_from_q(g, cfg)


def cohere2_moe(g: GgufFile, cfg: dict[str, Any]) -> None:
    """Cohere2MoeModel writes the pattern per block; the experts' width is intermediate_size
    (expert_feed_forward_length) and a dense prefix block's width prefix_dense_intermediate_size
    (its ffn_up)."""
    layer_types(g, cfg, 4, dense_first=False)
    dense = g.first("ffn_up.weight")
    if dense is not None:
        cfg["prefix_dense_intermediate_size"] = g.shape(f"blk.{dense}.ffn_up.weight")[1]
    attention_bias(g, cfg)


def laguna(g: GgufFile, cfg: dict[str, Any]) -> None:
    """LagunaModel writes head_count per block (num_attention_heads_per_layer) and the window
    but no pattern: llama.cpp's loader (models/laguna.cpp) takes period 4, full attention first.
    The gate g_proj (attn_gate) is [hidden, heads] per head, [hidden, heads x head_dim] per
    element, absent without gating."""
    heads = cfg.get("num_attention_heads")
    if isinstance(heads, list):
        cfg["num_attention_heads_per_layer"] = heads[: g.main_layers]
        cfg["num_attention_heads"] = heads[0]
    layer_types(g, cfg, 4, dense_first=True)
    gate = g.first("attn_gate.weight")
    if gate is None:
        cfg["gating"] = False
    else:
        width = g.shape(f"blk.{gate}.attn_gate.weight")[1]
        per_layer = cfg.get("num_attention_heads_per_layer") or [cfg["num_attention_heads"]] * (
            gate + 1
        )
        cfg["gating"] = "per-head" if width == per_layer[gate] else "per-element"
    attention_bias(g, cfg)


def mimo2(g: GgufFile, cfg: dict[str, Any]) -> None:
    """MimoV2Model writes head_count_kv per block (swa_num_key_value_heads on sliding blocks)
    and the per-block pattern; the sink flags are the attn_sinks tensors (the released
    config.json's swa_* and add_*_attention_sink_bias fields)."""
    layer_types(g, cfg, 4, dense_first=False)
    kv = per_block(g, cfg.get("num_key_value_heads"))
    sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
    for prefix, kind in (("swa_", True), ("", False)):
        values = {kv[i] for i in range(g.main_layers) if sliding[i] == kind}
        if len(values) > 1:
            raise SpecError(f"{g.path}: GGUF mimo2 head_count_kv differs within a layer kind")
        if values:
            cfg[f"{prefix}num_key_value_heads"] = values.pop()
        sinks = [i for i in range(g.main_layers) if sliding[i] == kind]
        flag = "swa" if kind else "full"
        cfg[f"add_{flag}_attention_sink_bias"] = bool(sinks) and g.has(
            f"blk.{sinks[0]}.attn_sinks.weight"
        )
    if "swa_num_key_value_heads" in cfg:
        cfg.update(
            swa_num_attention_heads=cfg["num_attention_heads"],
            swa_head_dim=cfg["head_dim"],
            swa_v_head_dim=cfg["v_head_dim"],
        )
    if not isinstance(cfg.get("num_key_value_heads"), int):  # every block slides
        cfg["num_key_value_heads"] = cfg["swa_num_key_value_heads"]


SWA_ARCHS: dict[str, ArchMap] = {
    # ExaoneMoEModel (K-EXAONE; MTP blocks appended, nextn_predict_layers)
    "exaone-moe": ArchMap(
        "exaone_moe",
        {
            **COMMON,
            **_EXPERTS,
            "num_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
            "sliding_window": "attention.sliding_window",
        },
        (exaone_moe,),
    ),
    # Cohere2MoeModel: intermediate_size is the expert width
    "cohere2moe": ArchMap(
        "cohere2_moe",
        {
            **{k: v for k, v in COMMON.items() if k != "intermediate_size"},
            **HEAD_DIM,
            "num_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "intermediate_size": "expert_feed_forward_length",
            "num_shared_experts": "expert_shared_count",
            "first_k_dense_replace": "leading_dense_block_count",
            "sliding_window": "attention.sliding_window",
        },
        (cohere2_moe,),
    ),
    # LagunaModel (poolside Laguna XS.2 / M.1)
    "laguna": ArchMap(
        "laguna",
        {
            **COMMON,
            **HEAD_DIM,
            **_EXPERTS,
            "shared_expert_intermediate_size": "expert_shared_feed_forward_length",
            "sliding_window": "attention.sliding_window",
        },
        (laguna,),
    ),
    # MimoV2Model (MiMo-V2-Flash: sliding blocks with 2x KV heads and sinks)
    "mimo2": ArchMap(
        "mimo_v2_flash",
        {
            **COMMON,
            **HEAD_DIM,
            **MOE,
            "n_routed_experts": "expert_count",
            "v_head_dim": "attention.value_length",
            "sliding_window": "attention.sliding_window",
        },
        (mimo2,),
    ),
}
