"""SmallThinker (PowerInfer/SmallThinker-21BA3B, -4BA0.6B): a Mixtral-shaped MoE under its
own field names, read by the standard blocks after renaming them. Its published config.json
carries no model_type: hf_config finds the family from architectures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields

# SmallThinkerConfig field -> the standard field the blocks read
_RENAMED = {
    "moe_num_primary_experts": "num_experts",
    "moe_num_active_primary_experts": "num_experts_per_tok",
    "moe_ffn_hidden_size": "moe_intermediate_size",
}


def _smallthinker(f: Fields, family: str) -> dict[str, Any]:
    """SmallThinkerForCausalLM (remote modeling_smallthinker.py): every layer input and
    post-attention RMSNorms, SmallThinkerAttention (GQA, head_dim, no bias; sliding window of
    sliding_window_size where sliding_window_layout is 1, NoPE where rope_layout is 0, which
    changes no weight) and a SmallThinkerMoeBlock: primary_router [experts, hidden] without
    bias, moe_num_primary_experts ReGLU experts (up, gate, down [moe_ffn_hidden_size], no
    bias: three matrices like SwiGLU), top moe_num_active_primary_experts."""
    n = f.int("num_hidden_layers")
    layout = f.int_list("sliding_window_layout") or [0] * n
    if len(layout) != n or any(v not in (0, 1) for v in layout):
        raise SpecError(f"{f.where}: field 'sliding_window_layout' must list 0/1 for {n} layers")
    cfg = {**f.cfg, **{new: f.cfg[old] for old, new in _RENAMED.items() if old in f.cfg}}
    cfg["layer_types"] = ["sliding_attention" if v else "full_attention" for v in layout]
    cfg["sliding_window"] = f.get("sliding_window_size") if any(layout) else None
    return read_layers(Fields(cfg, f.where), family, Traits())


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {"smallthinker": _smallthinker}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
# config.json files that name no model_type: the family their architectures entry names
FAMILY_OF_ARCHITECTURE = {"SmallThinkerForCausalLM": "smallthinker"}
