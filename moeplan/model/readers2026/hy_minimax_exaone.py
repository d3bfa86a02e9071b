"""Hy3 / Hy4, MiniMax-M3, K-EXAONE, Command A Plus (cohere2_moe), Laguna."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dataclasses import replace

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
