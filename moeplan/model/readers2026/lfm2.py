"""Liquid LFM2-MoE (lfm2_moe, LFM2-8B-A1B): gated short-convolution layers with a few GQA
layers, the first num_dense_layers with a dense MLP, the rest MoE."""

from __future__ import annotations

from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import gqa
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, MixerKind, MoESpec, QKNorm, RecurrentSpec, WindowKind


def lfm2_moe(f: Fields, family: str) -> dict[str, Any]:
    """Lfm2MoeForCausalLM: layer_types "conv" = Lfm2MoeShortConv (conv_L_cache taps, conv_bias
    on in_proj, conv and out_proj), else Lfm2MoeAttention (no biases, q/k RMSNorm per head);
    layers < num_dense_layers Lfm2MoeMLP (intermediate_size), the others
    Lfm2MoeSparseMoeBlock (router [experts, hidden], expert_bias buffer [experts] when
    use_expert_bias: the checkpoint stores it); embedding_norm is the final norm."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    types = f.list("layer_types")
    if len(types) != n or any(t not in ("conv", "full_attention") for t in types):
        raise SpecError(f"{f.where}: field 'layer_types' must be conv/full_attention x {n}")
    bias = f.bool("conv_bias")
    conv = RecurrentSpec(
        MixerKind.SHORT_CONV,
        num_heads=1,
        head_dim=hidden,
        state_size=0,
        conv_kernel=f.int("conv_L_cache", default=3),
        conv_bias=bias,
        proj_bias=bias,
    )
    dense = f.int("num_dense_layers", default=2, minimum=0)
    layers = []
    for i, t in enumerate(types):
        ffn = "dense" if i < dense else "moe"
        if t == "conv":
            layers.append(LayerSpec(ffn, WindowKind.FULL, None, MixerKind.SHORT_CONV, None, conv))
        else:
            layers.append(LayerSpec(ffn))
    moe = MoESpec(
        f.int("num_experts"),
        f.int("num_experts_per_tok"),
        f.int("moe_intermediate_size"),
        router_score_bias=f.bool("use_expert_bias", default=True),
    )
    out: dict[str, Any] = dict(
        hidden_size=hidden,
        attention=gqa(f, hidden, qk_norm=QKNorm.PER_HEAD),
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if dense else 0,
    )
    tie = f.get("tie_word_embeddings", f.get("tie_embedding"))
    out["tie_word_embeddings"] = True if tie is None else bool(tie)
    return out


READERS = {"lfm2_moe": lfm2_moe}
# routed_scaling_factor and norm_topk_prob: routing arithmetic; tie_embedding: the checkpoint's
# name of tie_word_embeddings (read above); conv_L_cache is read (the conv taps)
HARMLESS = frozenset({"routed_scaling_factor", "norm_topk_prob", "tie_embedding"})
