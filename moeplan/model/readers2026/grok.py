"""Grok in Hugging Face format. Grok-1 conversions of xai-org's JAX checkpoint
(keyfan/grok-1-hf: GrokForCausalLM, model_type "grok", num_local_experts; hpcai-tech/grok-1:
Grok1ModelForCausalLM, model_type "grok-1" or none, num_experts) and Grok-2 (xai-org/grok-2:
Grok1ForCausalLM, whose config.json says model_type "git", the name of an unrelated
transformers model): hf_config takes the family from architectures where model_type names no
family moeplan reads. xai-org's own Grok-1 fields (emb_size, widening_factor) stay with
readers._grok1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moeplan.errors import SpecError
from moeplan.model.blocks import gqa
from moeplan.model.families import Traits
from moeplan.model.fields import Fields
from moeplan.model.specs import LayerSpec, MoESpec


def _experts(f: Fields) -> int:
    """num_local_experts (keyfan GrokConfig, Grok-2) or num_experts (hpcai-tech Grok1Config)."""
    if f.has("num_local_experts"):
        return f.int("num_local_experts")
    return f.int("num_experts")


def _tied(f: Fields) -> bool:
    """The embedding is the output projection unless tie_word_embeddings says otherwise; when
    the config omits it, the default of the class transformers loads it with: GrokConfig and
    Grok1Config True (Grok-1's InOutEmbed is one table), GitConfig False (Grok-2: SGLang's
    Grok1ForCausalLM loads lm_head from its own tensor, counted in the checkpoint)."""
    return f.bool("tie_word_embeddings", default=f.cfg.get("model_type") != "git")


def grok_hf(f: Fields, family: str) -> dict[str, Any]:
    """SGLang python/sglang/srt/models/grok.py Grok1DecoderLayer (the reference code of
    Grok-2; keyfan modeling_grok.py and vLLM grok1.py hold the same weights for Grok-1):
    q/k/v/o without bias (head_dim, default hidden / heads); Grok1MoE: gate [experts, hidden]
    without bias, experts w1/w3/w2 (GELU-gated: three matrices) of moe_intermediate_size
    (Grok-1: intermediate_size), top num_experts_per_tok; with residual_moe a Grok1MLP
    (gate_up [2 x intermediate_size], down) beside the experts in every layer, both outputs
    summed; four RMSNorms per layer (pre/post attention, pre/post MoE) and a final one. The
    embedding, output and attention multipliers are scalars, not weights."""
    window = f.int("sliding_window_size", default=-1, minimum=-1)
    if window > 0:
        raise SpecError(f"{f.where}: field 'sliding_window_size' {window}: not read (only -1)")
    hidden = f.int("hidden_size")
    residual = f.bool("residual_moe")
    width = f.int("moe_intermediate_size", default=0, minimum=0) or f.int("intermediate_size")
    moe = MoESpec(_experts(f), f.int("num_experts_per_tok"), width)
    kind = "moe+dense" if residual else "moe"
    return dict(
        hidden_size=hidden,
        attention=gqa(f, hidden),
        layers=tuple(LayerSpec(kind) for _ in range(f.int("num_hidden_layers"))),
        moe=moe,
        dense_intermediate_size=f.int("intermediate_size") if residual else 0,
        norms_per_layer=4,
        tie_word_embeddings=_tied(f),
    )


def grok_as_git(cfg: dict[str, Any]) -> bool:
    """Grok-2's config.json (model_type "git", the name of transformers' GIT captioning model):
    told apart by its Grok fields, which a GIT config never has (no experts, no embedding
    multiplier), so that a copy without architectures still reads as Grok."""
    return (
        cfg.get("model_type") == "git"
        and {
            "num_local_experts",
            "embedding_multiplier_scale",
        }
        <= cfg.keys()
    )


READERS: dict[str, Callable[[Fields, str], dict[str, Any]]] = {"grok": grok_hf}
TRAITS: dict[str, Traits] = {}
HARMLESS: frozenset[str] = frozenset()
# config.json files whose model_type names no family moeplan reads (Grok-2's "git", or none)
FAMILY_OF_ARCHITECTURE = {
    "GrokForCausalLM": "grok",
    "Grok1ForCausalLM": "grok",
    "Grok1ModelForCausalLM": "grok",
}
