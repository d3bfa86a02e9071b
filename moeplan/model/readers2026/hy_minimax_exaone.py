"""Hy3 / Hy4, MiniMax-M3 (minimax_m3.py), K-EXAONE, Command A Plus (cohere2_moe), Laguna."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
from moeplan.model.readers2026 import minimax_m3
from moeplan.model.specs import QKNorm

# HYV3Attention (= ApertusAttention): q/k RMSNorm per head; attention_bias puts biases on q, k,
# v and o. HYV3MoE: sigmoid router with e_score_correction_bias, one shared MLP of
# moe_intermediate_size x num_shared_experts (the weights of num_shared_experts experts)
HY_V3 = Traits(qk_norm=QKNorm.PER_HEAD, score_bias=True)


def _with_o_bias(out: dict[str, Any], bias: bool) -> dict[str, Any]:
    """Attention whose o_proj carries a bias exactly when q/k/v do (attention_bias)."""
    if not bias:
        return out
    out["attention"] = replace(out["attention"], o_bias=True)
    out["layers"] = tuple(
        replace(x, attention=replace(x.attention, o_bias=True)) if x.attention else x
        for x in out["layers"]
    )
    return out


def read_hy_v3(f: Fields, family: str) -> dict[str, Any]:
    """HYV3ForCausalLM (Hy3): Llama-like GQA with per-head q/k norm, DeepSeek-style MoE."""
    return _with_o_bias(read_layers(f, family, HY_V3), f.bool("attention_bias"))


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "hy_v3": read_hy_v3,
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset(
    {
        "enable_moe_fp32_combine",  # HYV3MoE: adds the shared expert in fp32 (a dtype choice)
    }
)


# HYV4: MLA + DSA indexer (indexer_types full/shared), HYV4Attention adds gate_proj and sinks;
# Glm4MoeLite MoE (router with e_score_correction_bias); hyper-connections
HY_V4 = Traits(score_bias=True)


def read_hy_v4(f: Fields, family: str) -> dict[str, Any]:
    """HYV4ForCausalLM (Hy4): MLA with the DSA indexer, a sigmoid output gate [hidden,
    H x v_head_dim] and per-head sinks on every layer; hc_mult hyper-connection streams
    (HYV4HyperConnection: fn [2 x hc_mult, hc_mult x hidden], base [2 x hc_mult], scale [2])."""
    out = read_layers(f, family, HY_V4)
    gated = {"output_gate": True, "sinks": True}
    out["attention"] = replace(out["attention"], **gated)
    out["layers"] = tuple(
        replace(x, attention=replace(x.attention, **gated)) if x.attention else x
        for x in out["layers"]
    )
    hc = f.int("hc_mult", default=1)
    if hc > 1:
        out.update(hc_mult=hc, hc_mixes=2 * hc, hc_scales=2)
    return out


READERS["hy_v4"] = read_hy_v4
READERS.update(minimax_m3.READERS)


# ExaoneMoeAttention (= Exaone4Attention): per-head q/k RMSNorm; ExaoneMoeTopkRouter
# (DeepseekV3TopkRouter): e_score_correction_bias; shared MLP of moe_intermediate_size x
# num_shared_experts
EXAONE_MOE = Traits(qk_norm=QKNorm.PER_HEAD, score_bias=True)


def read_exaone_moe(f: Fields, family: str) -> dict[str, Any]:
    """ExaoneMoeForCausalLM (K-EXAONE): without layer_types, Exaone4Config makes layer i
    sliding unless (i + 1) % sliding_window_pattern == 0 (all full without sliding_window)."""
    if not f.has("layer_types"):
        pattern = f.int("sliding_window_pattern", default=0, minimum=0)
        if not f.has("sliding_window"):
            pattern = 0
        n = f.int("num_hidden_layers")
        types = [
            "sliding_attention" if pattern and (i + 1) % pattern else "full_attention"
            for i in range(n)
        ]
        f = Fields({**f.cfg, "layer_types": types}, f.where)
    return read_layers(f, family, EXAONE_MOE)


READERS["exaone_moe"] = read_exaone_moe


# Cohere2MoeSparseMoeBlock: MixtralExperts of intermediate_size, a router without bias, one
# shared MLP of intermediate_size x num_shared_experts (none by default)
COHERE2_MOE = Traits(expert_width_keys=("intermediate_size",))


def read_cohere2_moe(f: Fields, family: str) -> dict[str, Any]:
    """Cohere2MoeForCausalLM (Command A Plus): parallel attention and FFN behind one
    input_layernorm per layer (weight only); q/k/v/o biased with attention_bias; dense prefix
    layers of prefix_dense_intermediate_size (else intermediate_size). Without layer_types,
    Cohere2MoeConfig makes the first_k_dense_replace prefix layers sliding unless
    (i + 1) % prefix_dense_sliding_window_pattern == 0, the rest unless (i + 1) %
    sliding_window_pattern == 0 (i counted from the first MoE layer)."""
    n = f.int("num_hidden_layers")
    k = f.int("first_k_dense_replace", default=0, minimum=0)
    cfg = {**f.cfg}
    if not f.has("layer_types"):
        prefix = f.int("prefix_dense_sliding_window_pattern", default=1)
        rest = f.int("sliding_window_pattern", default=4)
        cfg["layer_types"] = [
            "sliding_attention" if (i + 1) % prefix else "full_attention" for i in range(k)
        ] + ["sliding_attention" if (i + 1) % rest else "full_attention" for i in range(n - k)]
    if not f.has("mlp_layer_types"):
        cfg["mlp_layer_types"] = ["dense" if i < k else "sparse" for i in range(n)]
    g = Fields(cfg, f.where)
    out = _with_o_bias(read_layers(g, family, COHERE2_MOE), g.bool("attention_bias"))
    f.read |= g.read
    if out["dense_intermediate_size"] and f.has("prefix_dense_intermediate_size"):
        out["dense_intermediate_size"] = f.int("prefix_dense_intermediate_size")
    out["norms_per_layer"] = 1
    return out


READERS["cohere2_moe"] = read_cohere2_moe


# LagunaAttention: per-head q/k RMSNorm, q/k/v/o biased with attention_bias, a softplus gate
# g_proj; LagunaTopKRouter: sigmoid with e_score_correction_bias; LagunaSparseMoeBlock: one
# shared MLP of shared_expert_intermediate_size, no shared-expert gate
LAGUNA = Traits(qk_norm=QKNorm.PER_HEAD, score_bias=True)


def read_laguna(f: Fields, family: str) -> dict[str, Any]:
    """LagunaForCausalLM (poolside Laguna): gating True / "per-head" gives g_proj [hidden, H]
    (head_gate), "per-element" [hidden, H x head_dim] (output_gate);
    num_attention_heads_per_layer sets each layer's query heads (key/value heads stay
    num_key_value_heads)."""
    out = _with_o_bias(read_layers(f, family, LAGUNA), f.bool("attention_bias"))
    gating = f.get("gating", True)
    if gating not in (True, False, "per-head", "per-element"):
        raise SpecError(f"{f.where}: field 'gating' must be true, per-head or per-element")
    per_head = gating is True or gating == "per-head"
    gate = {"output_gate": not per_head, "head_gate": per_head}
    base = replace(out["attention"], **gate)
    heads = f.int_list("num_attention_heads_per_layer") or [base.num_heads] * len(out["layers"])
    if len(heads) != len(out["layers"]):
        raise SpecError(f"{f.where}: num_attention_heads_per_layer must name every layer")
    out["attention"] = base
    out["layers"] = tuple(
        replace(x, attention=replace(x.attention or base, num_heads=h, **gate))
        if x.attention or h != base.num_heads
        else x
        for x, h in zip(out["layers"], heads, strict=True)
    )
    return out


READERS["laguna"] = read_laguna
