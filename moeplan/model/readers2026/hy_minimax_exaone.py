"""Hy3 / Hy4, MiniMax-M3, K-EXAONE, Command A Plus (cohere2_moe), Laguna."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
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
