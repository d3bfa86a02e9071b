"""Families the standard blocks read with a trait or two (transformers 5.23.0 modular_*.py named
per family): GLM-4.7-Flash (glm4_moe_lite), Solar Open, Mellum, A.X-K1, Kolibri-1, flint, Beam."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.specs import QKNorm

READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {}
TRAITS: dict[str, Traits] = {
    # Glm4MoeLite: DeepseekV3Attention (MLA) + Glm4MoeMoE, whose router always holds
    # e_score_correction_bias
    "glm4_moe_lite": Traits(score_bias=True),
    # SolarOpen: LlamaAttention + Glm4MoeMoE (router with e_score_correction_bias)
    "solar_open": Traits(score_bias=True),
    # Mellum: Qwen3MoeAttention (q/k RMSNorm per head) + Qwen3MoeSparseMoeBlock
    "mellum": Traits(qk_norm=QKNorm.PER_HEAD),
    # Flint: Qwen3MoeAttention + per-head sinks on every layer
    "flint": Traits(qk_norm=QKNorm.PER_HEAD, sinks=True),
    # Kolibri1: Exaone4Attention (q/k norm per head), Glm4DecoderLayer (input, post_self_attn,
    # post_attention and post_mlp norms), router with e_score_correction_bias
    "kolibri1": Traits(qk_norm=QKNorm.PER_HEAD, score_bias=True, norms_per_layer=4),
    # AXK1: DeepseekV3 MLA + MoE (noaux_tc router bias); AXK1MoE adds post_mlp_layernorm
    "axk1": Traits(score_bias=True, moe_layer_norms=1),
    # Beam: Qwen3MoeAttention + a sigmoid output gate from the hidden state with a bias per
    # head (BeamAttention.gate_proj / gate_bias); BeamDecoderLayer adds pre/post feed-forward
    # norms (four a layer); DeepseekV3TopkRouter (e_score_correction_bias)
    "beam": Traits(
        qk_norm=QKNorm.PER_HEAD,
        output_gate=True,
        gate_bias=True,
        score_bias=True,
        norms_per_layer=4,
    ),
}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
