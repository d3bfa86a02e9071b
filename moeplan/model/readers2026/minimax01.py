"""MiniMax-Text-01 / MiniMax-M1: lightning (linear) attention hybrid with softmax attention every
eighth layer and a Mixtral-style MoE in every layer. Three spellings of one architecture:
"minimax" (transformers MiniMaxConfig: layer_types), and the checkpoints' own remote code
"minimax_text_01" / "minimax_m1" (attn_type_list, 0 = lightning, 1 = softmax)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
from moeplan.model.specs import MixerKind, RecurrentSpec

LIGHTNING, SOFTMAX = "linear_attention", "full_attention"


def _layer_types(f: Fields, n: int) -> list[str]:
    """layer_types (MiniMaxConfig), else attn_type_list (MiniMaxText01Config /
    MiniMaxM1Config: 0 = lightning, 1 = softmax), else MiniMaxConfig.__post_init__'s default
    (softmax where (i + 1) % 2, lightning otherwise); the remote-code spellings have no
    default and are refused without a list."""
    types = f.list("layer_types")
    codes = f.list("attn_type_list")
    if not types and codes:
        if any(c not in (0, 1) or isinstance(c, bool) for c in codes):
            raise SpecError(f"{f.where}: field 'attn_type_list' must list 0 (lightning) / 1")
        types = [SOFTMAX if c == 1 else LIGHTNING for c in codes]
    if not types:
        if f.get("model_type") != "minimax":
            raise SpecError(f"{f.where}: missing field 'attn_type_list'")
        types = [SOFTMAX if (i + 1) % 2 else LIGHTNING for i in range(n)]
    if len(types) != n or any(t not in (SOFTMAX, LIGHTNING) for t in types):
        raise SpecError(
            f"{f.where}: field 'layer_types' / 'attn_type_list' must name "
            f"full/linear_attention for each of {n} layers"
        )
    return types


def _shared_width(f: Fields) -> int:
    """shared_intermediate_size: an int, or a per-layer list (the transformers conversion of
    the remote-code config writes [0])."""
    raw = f.get("shared_intermediate_size", 0)
    values = raw if isinstance(raw, list) else [raw]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values):
        raise SpecError(f"{f.where}: field 'shared_intermediate_size' must be a width >= 0")
    return max(values, default=0)


def _minimax01(f: Fields, family: str) -> dict[str, Any]:
    """MiniMaxForCausalLM (transformers modeling_minimax.py; the remote
    modeling_minimax_text_01.py / modeling_minimax_m1.py build the same weights): every layer
    input and post-attention RMSNorms and a MiniMaxSparseMoeBlock (router [experts, hidden]
    without bias, num_local_experts SwiGLU experts of intermediate_size, top
    num_experts_per_tok); softmax layers MiniMaxAttention (GQA, head_dim, no bias), lightning
    layers MiniMaxLightningAttention (mixer_params.lightning_params). The remote code's shared
    MLP (shared_intermediate_size > 0, with its coefficient gate) is not modelled: refused."""
    n = f.int("num_hidden_layers")
    types = _layer_types(f, n)
    if _shared_width(f):
        raise SpecError(
            f"{f.where}: shared_intermediate_size > 0 (MiniMax shared MLP and its coefficient "
            "gate) is not modelled"
        )
    softmax = Fields({**f.cfg, "layer_types": [SOFTMAX] * n}, f.where)
    out = read_layers(softmax, family, Traits(expert_width_keys=("intermediate_size",)))
    attn = out["attention"]
    lightning = RecurrentSpec(
        MixerKind.LINEAR_ATTENTION,
        num_heads=attn.num_heads,
        head_dim=attn.head_dim,
        state_size=attn.head_dim,
        conv_kernel=0,
        num_key_heads=attn.num_heads,
        lightning=True,
    )
    out["layers"] = tuple(
        replace(layer, mixer=MixerKind.LINEAR_ATTENTION, recurrent=lightning)
        if t == LIGHTNING
        else layer
        for layer, t in zip(out["layers"], types, strict=True)
    )
    return out


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "minimax": _minimax01,
    "minimax_text_01": _minimax01,
    "minimax_m1": _minimax01,
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
