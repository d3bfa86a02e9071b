"""IBM Granite MoE: granitemoe (3.0 MoE), granitemoeshared (3.x with a shared MLP),
granitemoe_swa (sliding-window layers with attention sinks) and granitemoehybrid (Granite 4.0-H:
Mamba2 layers with a few attention layers)."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import gqa
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, MixerKind, MoESpec, RecurrentSpec, WindowKind

# GraniteMoeHybridConfig normalizes layer_types (alias layers_block_type): "mamba" is the Mamba2
# layer ("linear_attention" after normalization), "attention" the attention layer
_HYBRID_TYPES = {
    "mamba": MixerKind.MAMBA2,
    "linear_attention": MixerKind.MAMBA2,
    "mamba2": MixerKind.MAMBA2,
    "attention": MixerKind.ATTENTION,
    "full_attention": MixerKind.ATTENTION,
}


def _mamba2(f: Fields, hidden: int) -> RecurrentSpec:
    """GraniteMoeHybridMambaLayer: d_inner = mamba_expand x hidden in mamba_n_heads heads of
    mamba_d_head ('auto': d_inner / heads), mamba_n_groups B/C groups of mamba_d_state."""
    inner = f.int("mamba_expand", default=2) * hidden
    heads = f.int("mamba_n_heads", default=128)
    head_dim = f.get("mamba_d_head", "auto")
    head_dim = inner // heads if head_dim in (None, "auto") else f.int("mamba_d_head")
    if heads * head_dim != inner:
        raise SpecError(f"{f.where}: mamba_n_heads x mamba_d_head must be mamba_expand x hidden")
    return RecurrentSpec(
        MixerKind.MAMBA2,
        num_heads=heads,
        head_dim=head_dim,
        state_size=f.int("mamba_d_state", default=256),
        conv_kernel=f.int("mamba_d_conv", default=4),
        n_groups=f.int("mamba_n_groups", default=1),
        conv_bias=f.bool("mamba_conv_bias", default=True),
        proj_bias=f.bool("mamba_proj_bias"),
    )


def granite(f: Fields, family: str) -> dict[str, Any]:
    """GraniteMoe*ForCausalLM. Attention: q/k/v/o all with attention_bias, head_dim = hidden /
    heads (GraniteMoeSWAAttention adds sinks [heads]; sliding_attention layers hold
    sliding_window tokens). FFN: block_sparse_moe (router [experts, hidden] without bias, experts
    gate_up [2 x intermediate_size, hidden] + down) plus shared_mlp (input_linear [hidden,
    2 x shared_intermediate_size] + output_linear) where shared_intermediate_size > 0 (granitemoe
    has none; GraniteMoeHybrid builds it always and runs it alone when num_local_experts = 0)."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    swa = family == "granitemoe_swa"
    bias = f.bool("attention_bias")
    attention = gqa(f, hidden, qkv_bias=bias, o_bias=bias, sinks=swa)
    n_experts = f.int("num_local_experts", default=0, minimum=0)
    shared = (
        0 if family == "granitemoe" else f.int("shared_intermediate_size", default=0, minimum=0)
    )
    width = f.int("intermediate_size")
    moe = None
    if n_experts:
        moe = MoESpec(
            n_experts,
            f.int("num_experts_per_tok"),
            width,
            num_shared_experts=1 if shared else 0,
            shared_intermediate_size=shared,
        )
    elif family != "granitemoehybrid":
        raise SpecError(f"{f.where}: num_local_experts must be at least 1")
    ffn = "moe" if moe else ("dense" if shared else "none")
    layers: list[LayerSpec] = []
    if family == "granitemoehybrid":
        types = f.list("layer_types") or f.list("layers_block_type") or ["mamba"] * n
        if len(types) != n or any(t not in _HYBRID_TYPES for t in types):
            raise SpecError(f"{f.where}: field 'layer_types' must be mamba/attention x {n}")
        mamba = _mamba2(f, hidden)
        for t in types:
            if _HYBRID_TYPES[t] is MixerKind.MAMBA2:
                layers.append(LayerSpec(ffn, WindowKind.FULL, None, MixerKind.MAMBA2, None, mamba))
            else:
                layers.append(LayerSpec(ffn))
    elif swa:
        types = f.list("layer_types") or [
            "full_attention" if i % 4 == 0 else "sliding_attention" for i in range(n)
        ]
        if len(types) != n or any(t not in ("full_attention", "sliding_attention") for t in types):
            raise SpecError(f"{f.where}: field 'layer_types' must be full/sliding_attention x {n}")
        window = f.int("sliding_window", default=128)
        for t in types:
            if t == "sliding_attention":
                layers.append(LayerSpec(ffn, WindowKind.SLIDING, window))
            else:
                layers.append(LayerSpec(ffn))
    else:
        layers = [LayerSpec(ffn)] * n
    return dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=shared if ffn == "dense" else 0,
    )


READERS = {
    "granitemoe": granite,
    "granitemoeshared": granite,
    "granitemoe_swa": granite,
    "granitemoehybrid": granite,
}
# multipliers on embeddings / residuals / logits / attention scores, the router's aux-loss weight,
# rope per layer (granitemoe_swa layer_rope_theta), mamba_chunk_size (the SSD scan's chunking)
# and time_step_limit (a clamp on dt), position_embedding_type (rope or none): no weights
HARMLESS = frozenset(
    {
        "embedding_multiplier",
        "logits_scaling",
        "residual_multiplier",
        "attention_multiplier",
        "router_aux_loss_coef",
        "layer_rope_theta",
        "mamba_chunk_size",
        "time_step_limit",
        "position_embedding_type",
    }
)
