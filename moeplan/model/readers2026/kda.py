"""Kimi Delta Attention hybrids: Kimi-Linear (kimi_linear) and Ling 3.0 (bailing_hybrid), KDA
linear attention interleaved with DeepSeek MLA, DeepSeek-V3 MoE (sigmoid router with score
correction, one fused shared expert). Kimi-K3's language model is a kimi_linear config whose
modeling code (moonshotai/Kimi-K3 modeling_kimi_linear.py, not in transformers) adds a gated
MLA, a full-rank KDA output gate, a latent MoE and Attention Residuals; a kimi_linear field
this reader does not model is refused, naming it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import mla
from moeplan.model.fields import Fields
from moeplan.model.known_fields import unread_shape_fields
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
    """mlp_layer_types, else KimiDecoderLayer's rule: a KimiSparseMoeBlock where layer i >=
    first_k_dense_replace and i % moe_layer_freq == 0, a dense KimiMLP elsewhere."""
    types = f.list("mlp_layer_types")
    if not types:
        k = f.int("first_k_dense_replace", default=1, minimum=0)
        freq = f.int("moe_layer_freq", default=1)
        types = ["sparse" if i >= k and i % freq == 0 else "dense" for i in range(n)]
    if len(types) != n or any(t not in ("dense", "sparse") for t in types):
        raise SpecError(f"{f.where}: field 'mlp_layer_types' must be dense/sparse x {n}")
    return types


def kda_hybrid(f: Fields, family: str) -> dict[str, Any]:
    """KimiLinearForCausalLM / BailingHybridForCausalLM. Full-attention layers are MLA
    (KimiLinearAttention: q_proj without q_lora when q_lora_rank is null; BailingHybridAttention
    always a plain q_proj, plus g_proj [hidden, heads]); the others KimiLinearDeltaAttention
    (gates through a linear_head_dim bottleneck) / BailingHybridDeltaAttention (full-rank gates).
    MLP: mlp_layer_types sparse = DeepseekV3-style MoE with one shared MLP of
    moe_intermediate_size x n_shared_experts, dense = intermediate_size.
    Kimi-K3 (modeling_kimi_linear.py of moonshotai/Kimi-K3): KimiMLAAttention with
    mla_use_output_gate adds g_proj [hidden, heads x v_head_dim]; KimiDeltaAttention with
    use_full_rank_gate has g_proj [hidden, heads x head_dim] for the output gate (the forget gate
    keeps f_a/f_b) and A_log [heads] (the published shards store it zero-padded to [128], per
    third-party reads of them: 32 values a KDA layer beyond the modeling code's parameters);
    KimiSparseMoeBlock's latent MoE and KimiDecoderLayer's Attention Residuals as read below."""
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
        full_rank_output_gate=not bailing and sub.bool("use_full_rank_gate"),
    )
    attention = mla(f)
    if bailing:
        attention = replace(attention, q_lora_rank=None, head_gate=True)
    elif f.bool("mla_use_output_gate"):  # KimiMLAAttention g_proj [hidden, heads x v_head_dim]
        attention = replace(attention, output_gate=True)
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
    # KimiSparseMoeBlock (Kimi-K3): with routed_expert_hidden_size the routed experts work on a
    # latent of that width, routed_expert_down_proj [hidden, latent] before them and
    # routed_expert_up_proj [latent, hidden] after, with routed_expert_norm RMSNorm(latent)
    # between when latent_moe_use_norm; the router and the shared MLP stay on hidden
    latent = f.opt_int("routed_expert_hidden_size")
    latent_norm = f.bool("latent_moe_use_norm")
    moe = MoESpec(
        n_experts,
        top_k,
        width,
        num_shared_experts=1 if n_shared else 0,
        shared_intermediate_size=width * n_shared,
        router_score_bias=True,  # DeepseekV3TopkRouter e_score_correction_bias
        latent_size=latent,
        latent_norms=1 if latent and latent_norm else 0,
    )
    has_dense = any(layer.ffn == "dense" for layer in layers)
    fields = dict(
        hidden_size=hidden,
        attention=attention,
        layers=tuple(layers),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if has_dense else 0,
        mtp_layers=f.int("num_nextn_predict_layers", default=0, minimum=0),
        max_position_embeddings=f.opt_int("model_max_length")
        or f.opt_int("max_position_embeddings"),
        # KimiDecoderLayer: Attention Residuals whenever attn_res_block_size is set (the block
        # size only groups layers: the same weights for any value)
        attn_res_block_size=f.opt_int("attn_res_block_size") or 0,
    )
    if not bailing:
        _refuse_unread(f, lac)
    return fields


def _refuse_unread(f: Fields, lac: dict[str, Any]) -> None:
    """A kimi_linear field that looks like a shape and that this reader did not read (nor names
    harmless below), or an unknown linear_attn_config key, is refused: Kimi-K3 showed such a
    field can double the count."""
    unread = [k for k in unread_shape_fields(f) if k not in HARMLESS]
    unread += [f"linear_attn_config.{k}" for k in sorted(lac.keys() - LINEAR_ATTN_KEYS)]
    if unread:
        raise SpecError(
            f"{f.where}: kimi_linear fields not modelled (they may change the counts): "
            f"{', '.join(unread)}"
        )


READERS = {"kimi_linear": kda_hybrid, "bailing_hybrid": kda_hybrid}
# linear_attn_config keys of the Kimi checkpoints (KimiLinearConfig, KimiDeltaAttention): the
# layer lists, the KDA shape, use_full_rank_gate, and gate_lower_bound (the lower bound of the
# decay inside the KDA kernel, no weight)
LINEAR_ATTN_KEYS = frozenset(
    {
        "full_attn_layers",
        "kda_layers",
        "head_dim",
        "num_heads",
        "short_conv_kernel_size",
        "use_full_rank_gate",
        "gate_lower_bound",
    }
)
# routed_scaling_factor, n_group/topk_group (num_expert_group), norm_topk_prob
# (moe_renormalize): routing arithmetic, no weights; kda_safe_gate / kda_lower_bound: a clamp in
# BailingHybridForgetGate.forward; mtp_loss_scaling_factor: training loss weight. Kimi-K3:
# activation_situ_beta / activation_situ_linear_beta are the constants of SituAndMul (hidden_act
# "situ"), an activation without weights between the same gate/up/down projections;
# moe_router_activation_func (sigmoid / softmax) and use_grouped_topk are routing arithmetic in
# KimiMoEGate; num_beams, num_beam_groups, num_return_sequences, repetition_penalty and the
# n-gram sizes are generation defaults transformers 4.x writes into every config
HARMLESS = frozenset(
    {
        "activation_situ_beta",
        "activation_situ_linear_beta",
        "moe_router_activation_func",
        "use_grouped_topk",
        "num_beams",
        "num_beam_groups",
        "num_return_sequences",
        "repetition_penalty",
        "no_repeat_ngram_size",
        "encoder_no_repeat_ngram_size",
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
