"""Kimi Delta Attention hybrids: Kimi-Linear (kimi_linear) and Ling 3.0 (bailing_hybrid), KDA
linear attention interleaved with DeepSeek MLA, DeepSeek-V3 MoE (sigmoid router with score
correction, one fused shared expert)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import mla
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, MixerKind, MoESpec, RecurrentSpec, WindowKind


def _layer_types(f: Fields, n: int) -> list[str]:
    """KimiLinearConfig / BailingHybridConfig __post_init__: layer_types, else (Kimi checkpoint)
    linear_attn_config full_attn_layers / kda_layers (1-indexed), else the family default
    (Kimi: full attention at i > 0 with i % 4 == 0; Bailing: (i + 1) % layer_group_size == 0)."""
    types = f.list("layer_types")
    lac = f.get("linear_attn_config") or {}
    if not types and isinstance(lac, dict) and {"full_attn_layers", "kda_layers"} <= lac.keys():
        types = [None] * n
        for i in lac["full_attn_layers"]:
            types[i - 1] = "full_attention"
        for i in lac["kda_layers"]:
            types[i - 1] = "linear_attention"
    if not types:
        if f.get("model_type") == "bailing_hybrid":
            g = f.int("layer_group_size", default=5)
            types = ["full_attention" if (i + 1) % g == 0 else "linear_attention" for i in range(n)]
        else:
            types = ["full_attention" if i and i % 4 == 0 else "linear_attention" for i in range(n)]
    if len(types) != n or any(t not in ("full_attention", "linear_attention") for t in types):
        raise SpecError(f"{f.where}: field 'layer_types' must be full/linear_attention x {n}")
    return types


def _mlp_types(f: Fields, n: int) -> list[str]:
    types = f.list("mlp_layer_types")
    if not types:
        k = f.int("first_k_dense_replace", default=1, minimum=0)
        types = ["dense" if i < k else "sparse" for i in range(n)]
    if len(types) != n or any(t not in ("dense", "sparse") for t in types):
        raise SpecError(f"{f.where}: field 'mlp_layer_types' must be dense/sparse x {n}")
    return types


def kda_hybrid(f: Fields, family: str) -> dict[str, Any]:
    """KimiLinearForCausalLM / BailingHybridForCausalLM. Full-attention layers are MLA
    (KimiLinearAttention: q_proj without q_lora when q_lora_rank is null; BailingHybridAttention
    always a plain q_proj, plus g_proj [hidden, heads]); the others KimiLinearDeltaAttention
    (gates through a linear_head_dim bottleneck) / BailingHybridDeltaAttention (full-rank gates).
    MLP: mlp_layer_types sparse = DeepseekV3-style MoE with one shared MLP of
    moe_intermediate_size x n_shared_experts, dense = intermediate_size."""
    hidden = f.int("hidden_size")
    n = f.int("num_hidden_layers")
    bailing = family == "bailing_hybrid"
    if f.bool("attention_bias"):
        raise SpecError(f"{f.where}: attention_bias (MLA projection biases) is not modelled")
    lac = f.get("linear_attn_config") or {}
    lac = lac if isinstance(lac, dict) else {}
    sub = Fields(lac, f"{f.where}: linear_attn_config")
    head_dim = f.int("linear_head_dim", default=0, minimum=0) or sub.int(
        "head_dim", default=0, minimum=0
    )
    heads = f.int("linear_num_heads", default=0, minimum=0) or sub.int(
        "num_heads", default=0, minimum=0
    )
    kernel = f.int("linear_conv_kernel_dim", default=0, minimum=0) or sub.int(
        "short_conv_kernel_size", default=0, minimum=0
    )
    if bailing:  # BailingHybridConfig: linear_* from head_dim / heads / short_conv_kernel_size
        head_dim = head_dim or f.int("head_dim", default=128)
        heads = heads or f.int("num_attention_heads")
        kernel = kernel or f.int("short_conv_kernel_size", default=4)
    head_dim, heads, kernel = head_dim or 128, heads or 32, kernel or 4
    kda = RecurrentSpec(
        MixerKind.LINEAR_ATTENTION,
        num_heads=heads,
        head_dim=head_dim,
        state_size=head_dim,
        conv_kernel=kernel,
        num_key_heads=heads,
        kda=True,
        gate_rank=0 if bailing else head_dim,
    )
    attention = mla(f)
    if bailing:
        attention = replace(attention, q_lora_rank=None, head_gate=True)
    layers = []
    for mixer, mlp in zip(_layer_types(f, n), _mlp_types(f, n), strict=True):
        ffn = "moe" if mlp == "sparse" else "dense"
        if mixer == "full_attention":
            layers.append(LayerSpec(ffn))
        else:
            linear = MixerKind.LINEAR_ATTENTION
            layers.append(LayerSpec(ffn, WindowKind.FULL, None, linear, None, kda))
    width = f.int("moe_intermediate_size")
    n_shared = f.int("num_shared_experts", default=0, minimum=0) or f.int(
        "n_shared_experts", default=1, minimum=0
    )
    n_experts = f.int("num_experts", default=0, minimum=0) or f.int("num_local_experts")
    top_k = f.int("num_experts_per_token", default=0, minimum=0) or f.int("num_experts_per_tok")
    moe = MoESpec(
        n_experts,
        top_k,
        width,
        num_shared_experts=1 if n_shared else 0,
        shared_intermediate_size=width * n_shared,
        router_score_bias=True,  # DeepseekV3TopkRouter e_score_correction_bias
    )
    has_dense = any(layer.ffn == "dense" for layer in layers)
    return dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if has_dense else 0,
        mtp_layers=f.int("num_nextn_predict_layers", default=0, minimum=0),
        max_position_embeddings=f.opt_int("model_max_length")
        or f.opt_int("max_position_embeddings"),
    )


READERS = {"kimi_linear": kda_hybrid, "bailing_hybrid": kda_hybrid}
# routed_scaling_factor, n_group/topk_group (num_expert_group), norm_topk_prob
# (moe_renormalize): routing arithmetic, no weights; kda_safe_gate / kda_lower_bound: a clamp in
# BailingHybridForgetGate.forward; mtp_loss_scaling_factor: training loss weight
HARMLESS = frozenset(
    {
        "routed_scaling_factor",
        "num_expert_group",
        "topk_group",
        "moe_renormalize",
        "kda_safe_gate",
        "kda_lower_bound",
        "mtp_loss_scaling_factor",
        "layer_group_size",
        "qk_head_dim",
    }
)
