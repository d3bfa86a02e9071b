"""dots.llm1 / dots3, ERNIE-4.5-VL, Hunyuan-A13B, FlexOlmo, Aria, JetMoE, MiniMax-M1 and other
older families."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.families import Traits, read_layers
from moeplan.model.fields import Fields
from moeplan.model.specs import QKNorm


def _dots1(f: Fields, family: str) -> dict[str, Any]:
    """Dots1ForCausalLM: Qwen3Attention (per-head q/k RMSNorm; attention_bias on q, k, v and
    o) in DeepseekV3DecoderLayer (MoE from first_k_dense_replace on: DeepseekV3TopkRouter with
    its e_score_correction_bias, n_shared_experts x moe_intermediate_size shared MLP);
    layer_types sliding from max_window_layers on. The default config (n_routed_experts None)
    does not build in transformers: refused here too."""
    if f.get("n_routed_experts") is None or f.get("n_shared_experts") is None:
        raise SpecError(f"{f.where}: dots1 needs n_routed_experts and n_shared_experts")
    out = read_layers(f, family, Traits(qk_norm=QKNorm.PER_HEAD, score_bias=True))
    bias = f.bool("attention_bias")
    out["attention"] = replace(out["attention"], qkv_bias=bias, o_bias=bias)
    return out


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {
    "dots1": _dots1,
}
TRAITS: dict[str, Traits] = {}
# fields these families' configs carry that change no count (named per field, with why)
HARMLESS: frozenset[str] = frozenset()
