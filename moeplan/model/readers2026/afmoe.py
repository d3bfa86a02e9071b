"""Arcee AFMoE (afmoe, Trinity): gated GQA with q/k norm on sliding and full layers, four norms
per layer, the first num_dense_layers dense, the rest MoE with fused shared experts."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import gqa
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, MoESpec, QKNorm, WindowKind


def afmoe(f: Fields, family: str) -> dict[str, Any]:
    """AfmoeForCausalLM: AfmoeAttention q/k/v/o (attention_bias), q_norm/k_norm [head_dim],
    gate_proj [hidden, heads x head_dim] (sigmoid output gate); layer_types (default: full
    attention every global_attn_every_n_layers-th layer, sliding_window otherwise);
    input/post_attention/pre_mlp/post_mlp RMSNorms; layers < num_dense_layers AfmoeMLP
    (intermediate_size), the others AfmoeSparseMoeBlock: router gate [experts, hidden],
    expert_bias [experts] (a parameter), experts, shared_experts one MLP of
    moe_intermediate_size x num_shared_experts."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    bias = f.bool("attention_bias")
    attention = gqa(
        f, hidden, qkv_bias=bias, o_bias=bias, qk_norm=QKNorm.PER_HEAD, output_gate=True
    )
    every = f.int("global_attn_every_n_layers", default=4)
    types = f.list("layer_types") or [
        "sliding_attention" if (i + 1) % every else "full_attention" for i in range(n)
    ]
    if len(types) != n or any(t not in ("sliding_attention", "full_attention") for t in types):
        raise SpecError(f"{f.where}: field 'layer_types' must be full/sliding_attention x {n}")
    window = f.int("sliding_window", default=1024)
    dense = f.int("num_dense_layers", default=1, minimum=0)
    layers = []
    for i, t in enumerate(types):
        ffn = "dense" if i < dense else "moe"
        if t == "sliding_attention":
            layers.append(LayerSpec(ffn, WindowKind.SLIDING, window))
        else:
            layers.append(LayerSpec(ffn))
    width = f.int("moe_intermediate_size")
    n_shared = f.int("num_shared_experts", default=0, minimum=0)
    moe = MoESpec(
        f.int("num_experts"),
        f.int("num_experts_per_tok"),
        width,
        num_shared_experts=1 if n_shared else 0,
        shared_intermediate_size=width * n_shared,
        router_score_bias=True,  # AfmoeSparseMoeBlock.expert_bias
    )
    return dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if dense else 0,
        norms_per_layer=4,
    )


READERS = {"afmoe": afmoe}
# route_scale: a multiplier on the routing weights; mup_enabled: scales the input embeddings by
# sqrt(hidden) (AfmoeModel.forward): no weights
HARMLESS = frozenset({"route_scale", "mup_enabled"})
