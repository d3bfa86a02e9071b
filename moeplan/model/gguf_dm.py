"""GGUF architectures of branch gguf_dm: Granite MoE with interleaved sliding-window attention
(granite_swa) and MiniMax-Text-01 / MiniMax-M1 (minimax-01: lightning-attention layers between
softmax-attention ones): table entries and the fields they derive (``gguf_archs.py`` merges
DM_ARCHS into its table).
"""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.gguf_derive import GgufFile, attention_bias, per_block
from moeplan.model.gguf_keys import COMMON, ArchMap

__all__ = ["DM_ARCHS"]


def granite_swa(g: GgufFile, cfg: dict[str, Any]) -> None:
    """GraniteMoeSWAModel writes the sliding layers as ``attention.sliding_window_pattern``, a
    flag per block (from layer_types, else transformers' default: full where i % 4 == 0), which
    llama.cpp's loader requires (models/granite-swa.cpp load_arch_hparams); the q/k/v/o biases
    are attn_q.bias. The dense GraniteSWAForCausalLM writes the same architecture without
    experts: not a MoE, refused."""
    if not g.key("expert_count"):
        raise SpecError(
            f"{g.path}: a granite_swa GGUF without experts ('{g.arch}.expert_count') is the "
            "dense GraniteSWA model, not a MoE"
        )
    pattern = per_block(g, g.need("attention.sliding_window_pattern"))
    cfg["layer_types"] = ["sliding_attention" if s else "full_attention" for s in pattern]
    attention_bias(g, cfg)


DM_ARCHS: dict[str, ArchMap] = {
    # GraniteMoeSWAModel (GraniteMoeSWAForCausalLM: Granite MoE, sliding-window layers with
    # attention sinks, optional shared MLP). intermediate_size is the expert width
    "granite_swa": ArchMap(
        "granitemoe_swa",
        {
            **COMMON,
            "num_local_experts": "expert_count",
            "num_experts_per_tok": "expert_used_count",
            "shared_intermediate_size": "expert_shared_feed_forward_length",
            "sliding_window": "attention.sliding_window",
        },
        (granite_swa,),
    ),
}
