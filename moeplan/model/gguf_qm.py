"""GGUF architectures of 2026 MoE models with indexed/sparse attention or hyper-connections
(Qwen4-Exp, ...): table entries and the fields they derive (``gguf_archs.py`` merges QM_ARCHS
into its table).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile, recurrent_layer_types, ssm_head_dim
from moeplan.model.gguf_keys import COMMON, HEAD_DIM, MOE, ArchMap

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
    QSA. The Per-Layer Embedding layers (ple.layers, 0-based) go back to the 1-based
    ple_layer_ids."""
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
    cfg["ple_layer_ids"] = [int(i) + 1 for i in g.key("ple.layers") or []]


QM_ARCHS: dict[str, ArchMap] = {
    # Qwen4ExpTextModel (Qwen3.8-Flash-Next: Qwen3.5 layers, hyper-connections, QSA indexer on
    # the attention blocks; MTP not exported)
    "qwen4exp": ArchMap(
        "qwen4_exp_text",
        {
            **COMMON,
            **MOE,
            **HEAD_DIM,
            **_INDEXER,
            "num_experts": "expert_count",
            "shared_expert_intermediate_size": "expert_shared_feed_forward_length",
            "linear_conv_kernel_dim": "ssm.conv_kernel",
            "linear_key_head_dim": "ssm.state_size",
            "linear_num_key_heads": "ssm.group_count",
            "linear_num_value_heads": "ssm.time_step_rank",
            "hc_count": "hyper_connection.count",
            "hc_lowrank": "hyper_connection.low_rank",
        },
        (qwen4exp,),
    ),
}
